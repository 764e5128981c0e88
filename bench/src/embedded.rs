//! `--embedded`: a throw-away local Sluice broker for one run.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct EmbeddedBroker {
    child: Child,
    pub addr: SocketAddr,
    _data_dir: tempfile::TempDir,
}

/// The `sluice` binary built next to this one, unless given explicitly.
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("sluice")))
        .unwrap_or_else(|| PathBuf::from("sluice"))
}

impl EmbeddedBroker {
    /// Starts `binary` on a free loopback port with a temporary data dir.
    pub fn start(binary: &Path, cores: Option<&str>) -> Result<Self, String> {
        if !binary.exists() {
            return Err(format!(
                "{} not found: build it with `cargo build --release --bin sluice` or pass --sluice-bin",
                binary.display()
            ));
        }
        let data_dir = tempfile::Builder::new()
            .prefix("sluice-bench-")
            .tempdir()
            .map_err(|e| format!("temporary data dir: {e}"))?;
        // Another process could take the port between this probe and the
        // broker's bind; the broker then fails to start and we say so.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?;
        let mut cmd = Command::new(binary);
        cmd.arg("--listen")
            .arg(addr.to_string())
            .arg("--advertise")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(c) = cores {
            cmd.arg("--cores").arg(c);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut broker = EmbeddedBroker {
            child,
            addr,
            _data_dir: data_dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(broker);
            }
            if let Ok(Some(status)) = broker.child.try_wait() {
                return Err(format!(
                    "the embedded broker exited during start-up: {status}"
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the embedded broker did not listen on {addr} within {START_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        // SIGTERM first so the broker shuts down cleanly (through kill(1),
        // which keeps this crate free of unsafe code), then make sure.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
