//! The `heldqr-mock` binary: parses the command line and serves (see `cli`).

/// mimalloc instead of the system allocator: the request path allocates small, short-lived
/// buffers, and under load glibc's malloc and free took about an eighth of the server's CPU
/// (see BENCHMARKS.md, "Speed as users run it"). The library leaves the choice to its user.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod logging;

fn main() -> std::process::ExitCode {
    cli::main()
}
