//! The `heldqr-mock` binary: parses the command line and serves (see `cli`).

mod cli;
mod logging;

fn main() -> std::process::ExitCode {
    cli::main()
}
