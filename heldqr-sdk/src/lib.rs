//! Heldqr SDK (work in progress).
