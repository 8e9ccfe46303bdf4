//! Heldqr mock server (work in progress).
