//! The `heldqr-mock` binary as a process: a command with no `HELDQR_MOCK_*` variable inherited,
//! started and waited for on its address line, stopped with SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// A command for the binary with no `HELDQR_MOCK_*` variable inherited from the caller.
pub fn mock_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("HELDQR_MOCK_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A started binary: the process, `IP:PORT` from its address line, and the rest of its stdout.
pub struct Running {
    pub child: Child,
    pub addr: String,
    pub stdout: BufReader<ChildStdout>,
}

impl Running {
    /// `http://IP:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts `cmd` (stdout and stderr piped, killed on drop) and waits for its address line.
pub async fn start(mut cmd: Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn heldqr-mock");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
        .await
        .expect("an address line within 30 s")
        .expect("stdout readable");
    assert!(
        line.starts_with("heldqr-mock listening on http://"),
        "{line:?}"
    );
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .expect("an address")
        .to_owned();
    Running {
        child,
        addr,
        stdout,
    }
}

/// Sends SIGTERM to `child`.
pub fn sigterm(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
}
