//! How a Sluice node is started, stopped and hurt. This is the one place
//! that knows the broker's flags, the config keys the checker sets, and
//! where each node's ports, data and logs live: starting a cluster once
//! nodes can join one (issue 11) means adding the peers to
//! [`NodeSpec::config_toml`] and lifting the check in [`plan`].
//!
//! Clients never reach a broker directly: each node advertises the address
//! of its own fault-injecting proxy ([`super::proxy`]), so every client
//! connection, including the ones metadata sends clients to, passes
//! through it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use net::msg::{ApiVersionsRequest, ApiVersionsResponse};
use net::{ApiKey, RequestHeader};

use super::disk::Throttle;
use super::error::CheckError;
use super::limits;

/// Everything needed to start one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub id: usize,
    /// Where the broker listens; only the node's proxy connects here.
    pub listen: SocketAddr,
    /// What the broker advertises: its proxy's address.
    pub advertise: SocketAddr,
    /// The node's directory: config, logs, and the data directory.
    pub dir: PathBuf,
    /// Shards (the broker's `--cores` count).
    pub shards: usize,
}

impl NodeSpec {
    /// The broker's `--data-dir` (a small file system's mount point when
    /// the run fills disks).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("sluice.toml")
    }

    /// The log of the `start`-th start of the broker (1-based).
    pub fn log_path(&self, start: u32) -> PathBuf {
        self.dir.join(format!("broker-{start}.log"))
    }

    /// The config file: only what differs from the broker's defaults, each
    /// with the reason.
    pub fn config_toml(&self) -> String {
        let mut root = toml::Table::new();
        root.insert("node_id".into(), (self.id as i64).into());
        let mut log = toml::Table::new();
        // The smallest segment the broker accepts: a run writes a few MiB,
        // so segments roll and recovery after a kill crosses segment ends.
        log.insert("segment_bytes".into(), (1i64 << 20).into());
        // The durability the tool checks: acknowledged means fsync'ed.
        log.insert("fsync".into(), "always".into());
        root.insert("log".into(), log.into());
        let mut groups = toml::Table::new();
        // Members join right after a kill; waiting 3 s (the default) for
        // more members would only stretch every rebalance of a short run.
        groups.insert("initial_rebalance_delay_ms".into(), 200i64.into());
        root.insert("groups".into(), groups.into());
        toml::to_string(&root).expect("a table of plain values serialises")
    }

    fn command(&self, binary: &Path) -> Command {
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(self.config_path())
            .arg("--listen")
            .arg(self.listen.to_string())
            .arg("--advertise")
            .arg(self.advertise.to_string())
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--cores")
            .arg(self.shards.to_string())
            .arg("--log-level")
            .arg("info")
            .stdin(Stdio::null());
        command
    }
}

/// A loopback port nobody listens on right now. Another process could take
/// it before the broker binds it; the broker then fails to start and says so.
fn free_port() -> Result<SocketAddr, CheckError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(CheckError::io("finding a free port"))
}

/// The nodes of a run in `out_dir`: `node-N/` each, with fresh ports.
pub fn plan(nodes: usize, out_dir: &Path, shards: usize) -> Result<Vec<NodeSpec>, CheckError> {
    if nodes != 1 {
        return Err(CheckError::Usage(format!(
            "--nodes {nodes}: Sluice runs as a single node until nodes can form a cluster \
             (issue 11) and replicate (issue 12); use --nodes 1, or --brokers to check brokers \
             you started yourself"
        )));
    }
    (0..nodes)
        .map(|id| {
            Ok(NodeSpec {
                id,
                listen: free_port()?,
                advertise: free_port()?,
                dir: out_dir.join(format!("node-{id}")),
                shards,
            })
        })
        .collect()
}

/// Whether a broker at `addr` answers an ApiVersions request. A socket that
/// accepts proves nothing: a SIGKILLed broker's listening sockets outlive
/// the reaped process by a few milliseconds (until the kernel tears down
/// its io_uring instances), and a restart that quick would talk to them.
fn answers_api_versions(addr: SocketAddr) -> bool {
    let exchange = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, limits::READY_PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(limits::READY_PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(limits::READY_PROBE_TIMEOUT))?;
        let header = RequestHeader::new(ApiKey::ApiVersions, 0, 1);
        let frame = net::encode_request(&header, &ApiVersionsRequest::default());
        stream.write_all(&frame.chunks().concat())?;
        let mut size = [0u8; 4];
        stream.read_exact(&mut size)?;
        let size = i32::from_be_bytes(size);
        if !(0..=limits::READY_PROBE_RESPONSE_BYTES_MAX).contains(&size) {
            return Ok(false);
        }
        let mut body = vec![0u8; size as usize];
        stream.read_exact(&mut body)?;
        let answer = net::decode_response::<ApiVersionsResponse>(body.into(), 0);
        Ok(answer.is_ok_and(|(_, r)| r.error_code == 0))
    };
    exchange().unwrap_or(false)
}

/// Name, state, wait channel, system call and kernel stack of every
/// thread of `pid`, from /proc (the kernel stack needs root).
fn thread_states(pid: u32) -> String {
    let mut out = String::new();
    let tasks = std::path::PathBuf::from(format!("/proc/{pid}/task"));
    let Ok(entries) = std::fs::read_dir(&tasks) else {
        return format!("{} is gone\n", tasks.display());
    };
    for task in entries.flatten() {
        let dir = task.path();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        let state = read("status")
            .lines()
            .find(|l| l.starts_with("State:"))
            .unwrap_or_default()
            .to_string();
        out.push_str(&format!(
            "thread {} ({}) {state}, wchan {}, syscall {}\n{}\n",
            task.file_name().to_string_lossy(),
            read("comm").trim(),
            read("wchan").trim(),
            read("syscall").trim(),
            read("stack")
        ));
    }
    out
}

/// A node's broker process.
pub struct Node {
    pub spec: NodeSpec,
    binary: PathBuf,
    child: Option<Child>,
    starts: u32,
    paused: bool,
    /// The cgroup every start of the broker joins (slow-disk runs).
    pub throttle: Option<Throttle>,
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid has no memory effects; the
    // child is not reaped yet (we hold its `Child`), so the pid is its.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}

impl Node {
    /// Writes the node's config; does not start it.
    pub fn new(spec: NodeSpec, binary: &Path) -> Result<Node, CheckError> {
        std::fs::create_dir_all(spec.data_dir()).map_err(CheckError::io(format!(
            "creating {}",
            spec.data_dir().display()
        )))?;
        std::fs::write(spec.config_path(), spec.config_toml()).map_err(CheckError::io(format!(
            "writing {}",
            spec.config_path().display()
        )))?;
        Ok(Node {
            spec,
            binary: binary.to_path_buf(),
            child: None,
            starts: 0,
            paused: false,
            throttle: None,
        })
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The log of the current (or last) start.
    pub fn log_path(&self) -> PathBuf {
        self.spec.log_path(self.starts.max(1))
    }

    /// Starts the broker and waits until it accepts connections; returns
    /// how long that took.
    pub fn start(&mut self) -> Result<Duration, CheckError> {
        assert!(
            self.child.is_none(),
            "node {} already running",
            self.spec.id
        );
        self.starts += 1;
        let started = Instant::now();
        let log = std::fs::File::create(self.log_path()).map_err(CheckError::io(format!(
            "creating {}",
            self.log_path().display()
        )))?;
        let stderr = log
            .try_clone()
            .map_err(CheckError::io("duplicating the log file"))?;
        let child = self
            .spec
            .command(&self.binary)
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| CheckError::Node {
                node: self.spec.id,
                reason: format!("cannot run {}: {e}", self.binary.display()),
            })?;
        let pid = child.id();
        self.child = Some(child);
        if let Some(throttle) = &self.throttle {
            if let Err(e) = throttle.adopt(pid) {
                self.kill();
                return Err(e);
            }
        }
        let deadline = started + limits::NODE_START_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("just started");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(self.failure(format!("exited during start-up ({status})")));
            }
            if answers_api_versions(self.spec.listen) {
                return Ok(started.elapsed());
            }
            if Instant::now() >= deadline {
                // What each thread was doing, before the evidence dies.
                let threads = self.spec.dir.join(format!("hang-{}.txt", self.starts));
                let _ = std::fs::write(&threads, thread_states(pid));
                self.kill();
                return Err(self.failure(format!(
                    "did not accept connections on {} within {:?} (its threads then: {})",
                    self.spec.listen,
                    limits::NODE_START_TIMEOUT,
                    threads.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn failure(&self, what: String) -> CheckError {
        CheckError::Node {
            node: self.spec.id,
            reason: format!("the broker {what}; its log: {}", self.log_path().display()),
        }
    }

    /// SIGKILL: the process dies at once, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A stopped process dies of SIGKILL too; no SIGCONT needed.
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// SIGSTOP: every thread of the broker freezes; sockets stay open.
    pub fn pause(&mut self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGSTOP);
            self.paused = true;
        }
    }

    pub fn resume(&mut self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGCONT);
        }
        self.paused = false;
    }

    /// SIGTERM and wait for the broker to exit; returns whether it exited
    /// cleanly in time (it is killed otherwise).
    pub fn stop(&mut self) -> bool {
        self.resume();
        let Some(mut child) = self.child.take() else {
            return true;
        };
        signal(&child, libc::SIGTERM);
        let deadline = Instant::now() + limits::NODE_STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_node_is_planned_and_more_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = plan(1, dir.path(), 2).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_ne!(nodes[0].listen, nodes[0].advertise);
        assert_eq!(nodes[0].data_dir(), dir.path().join("node-0/data"));
        let config: toml::Table = nodes[0].config_toml().parse().unwrap();
        assert_eq!(config["log"]["fsync"].as_str(), Some("always"));
        let e = plan(3, dir.path(), 2).unwrap_err().to_string();
        assert!(e.contains("issue 11") && e.contains("--nodes 1"), "{e}");
    }
}
