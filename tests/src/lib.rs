//! The end-to-end test harness: starts the real `sluice` binary (built by
//! `cargo build --workspace --bins`, as `scripts/test` does) on a free
//! loopback port with a temporary data directory, and runs real clients
//! (kcat, the Python clients in `tests/python/`) against it.
//!
//! Tests use only what a user has: the binary, its flags, the Kafka
//! protocol. They never link the broker's crates.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a broker may take to start accepting connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean shutdown may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace root (parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A binary built by `cargo build --workspace --bins`.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Options for starting a broker.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    pub shards: usize,
    /// Extra TOML appended to the generated config file.
    pub config_toml: String,
    /// Where the broker's data directory is made (a fresh temporary
    /// directory inside it); beside its config and logs if `None`.
    pub data_dir_parent: Option<PathBuf>,
    /// Where the broker's stdout and stderr go (opened for writing, e.g.
    /// `/dev/full`) instead of a fresh log file beside its config.
    pub output: Option<PathBuf>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            shards: 2,
            config_toml: String::new(),
            data_dir_parent: None,
            output: None,
        }
    }
}

/// A running `sluice` process with its own data directory. Killed on drop.
pub struct Broker {
    pub addr: SocketAddr,
    pub options: BrokerOptions,
    /// Config file and logs, and the data directory unless it is elsewhere.
    data: tempfile::TempDir,
    data_elsewhere: Option<tempfile::TempDir>,
    child: Option<Child>,
    starts: u32,
}

impl Broker {
    pub fn start(options: BrokerOptions) -> Broker {
        let mut broker = Broker::new(options, free_port());
        broker.spawn();
        broker
    }

    /// A broker on `port`, not started yet.
    fn new(options: BrokerOptions, port: u16) -> Broker {
        let data = tempfile::Builder::new()
            .prefix("sluice-e2e-")
            .tempdir()
            .expect("temp dir");
        let data_elsewhere = options.data_dir_parent.as_ref().map(|parent| {
            tempfile::Builder::new()
                .prefix("sluice-e2e-data-")
                .tempdir_in(parent)
                .expect("temp data dir")
        });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        Broker {
            addr,
            options,
            data,
            data_elsewhere,
            child: None,
            starts: 0,
        }
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The broker's `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        match &self.data_elsewhere {
            Some(dir) => dir.path().to_path_buf(),
            None => self.data.path().join("data"),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.data.path().join(format!("broker-{}.log", self.starts))
    }

    fn spawn(&mut self) {
        self.spawn_unready();
        self.wait_ready();
    }

    /// Starts the process without waiting for it to listen (a cluster's
    /// nodes listen only once enough of them run to elect a controller).
    fn spawn_unready(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        self.starts += 1;
        let config_path = self.data.path().join("sluice.toml");
        std::fs::write(&config_path, &self.options.config_toml).expect("write config");
        let log = match &self.options.output {
            Some(path) => std::fs::OpenOptions::new().write(true).open(path),
            None => std::fs::File::create(self.log_path()),
        }
        .expect("broker output file");
        let child = Command::new(binary("sluice"))
            .arg("--config")
            .arg(&config_path)
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--cores")
            .arg(self.options.shards.to_string())
            .arg("--log-level")
            .arg("info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn sluice");
        self.child = Some(child);
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("sluice exited during start-up ({status}):\n{}", self.log());
            }
            // A connection alone is not enough: for a few milliseconds after
            // a SIGKILL the killed process's listening sockets still accept
            // (io_uring teardown). The broker is ready when it answers.
            if answers_api_versions(self.addr) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sluice did not start listening:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The current run's log (stderr and stdout).
    pub fn log(&self) -> String {
        if let Some(output) = &self.options.output {
            return format!("(the broker's output went to {})", output.display());
        }
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().expect("broker running").id() as i32
    }

    /// SIGTERM and wait for a clean exit; panics if the exit is not clean.
    pub fn stop(&mut self) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "unclean shutdown ({status}):\n{}",
                    self.log()
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "sluice did not stop within {STOP_TIMEOUT:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process dies at once, as in a crash.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
    }

    /// Starts the broker again on the same port and data directory.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Starts the broker again without waiting for it to listen (a start-up
    /// expected to fail).
    pub fn restart_unready(&mut self) {
        self.spawn_unready();
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGSTOP / SIGCONT: a pause, as a stalled machine makes one.
    pub fn pause(&self, paused: bool) {
        let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits for the process to exit by itself (a start-up that must fail);
    /// panics if it still runs after `timeout`. Returns its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("broker running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("sluice did not exit within {timeout:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether a broker at `addr` answers an ApiVersions v0 request.
fn answers_api_versions(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    // size, api key 18, version 0, correlation id 1, null client id
    let request = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    let mut size = [0u8; 4];
    stream.write_all(&request).is_ok() && stream.read_exact(&mut size).is_ok()
}

/// Several `sluice` processes forming one cluster on loopback: node `i` has
/// node id `i + 1`, a Kafka port and a node-to-node port; the first
/// `voters` nodes are the controller's voters, the others brokers only.
pub struct Cluster {
    pub nodes: Vec<Broker>,
    voters: String,
}

impl Cluster {
    /// Starts `count` nodes, the first `voters` of them voters, with
    /// `extra_toml` in every config; waits until every node listens.
    pub fn start(count: usize, voters: usize, extra_toml: &str) -> Cluster {
        let kafka_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let rpc_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let voter_list = (0..voters)
            .map(|i| format!("\"{}@127.0.0.1:{}\"", i + 1, rpc_ports[i]))
            .collect::<Vec<_>>()
            .join(", ");
        let mut cluster = Cluster {
            nodes: Vec::new(),
            voters: voter_list,
        };
        for i in 0..count {
            cluster.add_node(kafka_ports[i], rpc_ports[i], extra_toml);
        }
        for node in &mut cluster.nodes {
            node.spawn_unready();
        }
        for node in &mut cluster.nodes {
            node.wait_ready();
        }
        cluster
    }

    fn add_node(&mut self, kafka_port: u16, rpc_port: u16, extra_toml: &str) {
        let node_id = self.nodes.len() + 1;
        let config_toml = format!(
            "node_id = {node_id}\n{extra_toml}\n[cluster]\nvoters = [{}]\nrpc_listen = \"127.0.0.1:{rpc_port}\"\n",
            self.voters
        );
        self.nodes.push(Broker::new(
            BrokerOptions {
                config_toml,
                ..BrokerOptions::default()
            },
            kafka_port,
        ));
    }

    /// Starts one more node, a broker that is not a voter, and waits until
    /// it listens.
    pub fn add_broker(&mut self, extra_toml: &str) -> &mut Broker {
        self.add_node(free_port(), free_port(), extra_toml);
        let node = self.nodes.last_mut().expect("just added");
        node.spawn();
        node
    }

    /// A node not started yet, for a test to configure and start itself.
    pub fn add_broker_unready(&mut self, extra_toml: &str) -> &mut Broker {
        self.add_node(free_port(), free_port(), extra_toml);
        self.nodes.last_mut().expect("just added")
    }

    /// The `voters` list of this cluster's configs, as TOML array items.
    pub fn voters_toml(&self) -> String {
        self.voters.clone()
    }

    /// Every running node's Kafka address, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.is_running())
            .map(Broker::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- sluice log ({}) ---\n{}", self.addr, self.log());
        }
    }
}

/// Runs a command to completion with `stdin` fed in, failing the test with
/// its output if it does not exit 0 within `timeout`.
pub fn run(command: &mut Command, stdin: &[u8], timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} timed out after {timeout:?}\nstderr:\n{}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    feeder.join().unwrap();
    let output = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    assert!(
        output.status.success(),
        "{command:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Waits for `child` at most `timeout`; kills it and fails the test beyond.
/// Returns its output (stdout and stderr must be piped) and how long it ran.
pub fn finish(mut child: Child, timeout: Duration) -> (Output, Duration) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), start.elapsed());
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the child process did not finish within {timeout:?} (then {})\nstdout:\n{}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = from.read_to_end(&mut out);
        out
    })
}

/// `kcat -b BROKER ARGS...`
pub fn kcat(broker: &Broker, args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new("kcat");
    command.arg("-b").arg(broker.bootstrap()).args(args);
    run(&mut command, stdin, Duration::from_secs(120))
}

/// `python3 tests/python/SCRIPT ARGS...`
pub fn python(script: &str, args: &[&str]) -> Output {
    let mut command = Command::new("python3");
    command
        .arg(workspace_dir().join("tests/python").join(script))
        .args(args)
        .env("PYTHONUNBUFFERED", "1");
    run(&mut command, b"", Duration::from_secs(240))
}

/// A child process whose stdout is read line by line as it runs.
pub struct Streaming {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Streaming {
    pub fn spawn(command: &mut Command) -> Streaming {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Streaming { child, lines }
    }

    /// Collects lines until `n` have arrived in total or `timeout` passes.
    pub fn collect(&mut self, into: &mut Vec<String>, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while into.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => into.push(line),
                Err(_) => return,
            }
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal Kafka client over a raw socket, for the cases real clients
/// never produce (duplicate retries on demand, sequence gaps, bad CRCs,
/// unsupported versions). It writes only Produce v3 and ApiVersions, byte by
/// byte, so that the tests do not depend on the broker's own codec.
pub mod raw {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// One record batch (magic 2) holding `values`, uncompressed.
    pub fn record_batch(
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        values: &[&[u8]],
    ) -> Vec<u8> {
        let mut records = Vec::new();
        for (i, value) in values.iter().enumerate() {
            let mut body = vec![0u8]; // attributes
            varint(&mut body, 0); // timestamp delta
            varint(&mut body, i as i64); // offset delta
            varint(&mut body, -1); // key: null
            varint(&mut body, value.len() as i64);
            body.extend_from_slice(value);
            varint(&mut body, 0); // headers
            varint(&mut records, body.len() as i64);
            records.extend_from_slice(&body);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let mut after_crc = Vec::new();
        after_crc.extend_from_slice(&0i16.to_be_bytes()); // attributes
        after_crc.extend_from_slice(&(values.len() as i32 - 1).to_be_bytes());
        after_crc.extend_from_slice(&now.to_be_bytes());
        after_crc.extend_from_slice(&now.to_be_bytes());
        after_crc.extend_from_slice(&producer_id.to_be_bytes());
        after_crc.extend_from_slice(&producer_epoch.to_be_bytes());
        after_crc.extend_from_slice(&base_sequence.to_be_bytes());
        after_crc.extend_from_slice(&(values.len() as i32).to_be_bytes());
        after_crc.extend_from_slice(&records);
        let mut batch = Vec::new();
        batch.extend_from_slice(&0i64.to_be_bytes()); // base offset
        batch.extend_from_slice(&((4 + 1 + 4 + after_crc.len()) as i32).to_be_bytes());
        batch.extend_from_slice(&(-1i32).to_be_bytes()); // leader epoch
        batch.push(2); // magic
        batch.extend_from_slice(&crc32c::crc32c(&after_crc).to_be_bytes());
        batch.extend_from_slice(&after_crc);
        batch
    }

    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let byte = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// A connection sending requests one at a time.
    pub struct Connection {
        stream: TcpStream,
        correlation_id: i32,
    }

    impl Connection {
        pub fn open(addr: SocketAddr) -> Connection {
            let stream = TcpStream::connect(addr).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            Connection {
                stream,
                correlation_id: 0,
            }
        }

        /// Sends a request (header v1, null client id) and returns the
        /// response body after the correlation id.
        pub fn request(&mut self, api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
            self.correlation_id += 1;
            let mut frame = Vec::new();
            frame.extend_from_slice(&api_key.to_be_bytes());
            frame.extend_from_slice(&version.to_be_bytes());
            frame.extend_from_slice(&self.correlation_id.to_be_bytes());
            frame.extend_from_slice(&(-1i16).to_be_bytes());
            frame.extend_from_slice(body);
            let mut out = (frame.len() as i32).to_be_bytes().to_vec();
            out.extend_from_slice(&frame);
            self.stream.write_all(&out).expect("send");
            let mut size = [0u8; 4];
            self.stream.read_exact(&mut size).expect("response size");
            let mut response = vec![0u8; i32::from_be_bytes(size) as usize];
            self.stream.read_exact(&mut response).expect("response");
            assert_eq!(
                response[..4],
                self.correlation_id.to_be_bytes(),
                "correlation id"
            );
            response.split_off(4)
        }

        /// Sends a flexible-version request (header v2: tagged fields after
        /// the client id) and returns the body after the response header.
        pub fn request_flexible(&mut self, api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
            let mut tagged = vec![0u8]; // no tagged fields in the header
            tagged.extend_from_slice(body);
            let response = self.request(api_key, version, &tagged);
            assert_eq!(response[0], 0, "no tagged fields in the response header");
            response[1..].to_vec()
        }

        /// A new producer id by InitProducerId v0 (no transactional id).
        pub fn init_producer_id(&mut self) -> i64 {
            let mut body = (-1i16).to_be_bytes().to_vec(); // null transactional id
            body.extend_from_slice(&60_000i32.to_be_bytes()); // transaction timeout
            let r = self.request(22, 0, &body);
            // throttle(4) error(2) producer id(8) epoch(2)
            assert_eq!(i16::from_be_bytes([r[4], r[5]]), 0, "InitProducerId error");
            i64::from_be_bytes(r[6..14].try_into().unwrap())
        }

        /// The controller leader's node id by DescribeQuorum v0 (-1: none).
        pub fn controller_leader(&mut self) -> i32 {
            let topic = b"__cluster_metadata";
            let mut body = vec![2u8, topic.len() as u8 + 1]; // one topic, its name
            body.extend_from_slice(topic);
            body.push(2); // one partition
            body.extend_from_slice(&0i32.to_be_bytes());
            body.extend_from_slice(&[0, 0, 0]); // partition, topic, body: no tags
            let r = self.request_flexible(55, 0, &body);
            // error(2) topics(1) name(1+n) partitions(1) index(4) error(2) leader(4)
            assert_eq!(i16::from_be_bytes([r[0], r[1]]), 0, "DescribeQuorum error");
            let at = 2 + 1 + 1 + topic.len() + 1 + 4;
            assert_eq!(
                i16::from_be_bytes([r[at], r[at + 1]]),
                0,
                "DescribeQuorum partition error"
            );
            i32::from_be_bytes(r[at + 2..at + 6].try_into().unwrap())
        }

        /// Fetch v4 of partition 0 of `topic` from `offset`; returns (error
        /// code, high watermark, record bytes).
        pub fn fetch(
            &mut self,
            topic: &str,
            offset: i64,
            max_wait_ms: i32,
            min_bytes: i32,
        ) -> (i16, i64, Vec<u8>) {
            let mut body = Vec::new();
            body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
            body.extend_from_slice(&max_wait_ms.to_be_bytes());
            body.extend_from_slice(&min_bytes.to_be_bytes());
            body.extend_from_slice(&(1i32 << 20).to_be_bytes()); // max bytes
            body.push(0); // isolation: read uncommitted
            body.extend_from_slice(&1i32.to_be_bytes()); // one topic
            body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
            body.extend_from_slice(topic.as_bytes());
            body.extend_from_slice(&1i32.to_be_bytes()); // one partition
            body.extend_from_slice(&0i32.to_be_bytes());
            body.extend_from_slice(&offset.to_be_bytes());
            body.extend_from_slice(&(1i32 << 20).to_be_bytes()); // partition max bytes
            let r = self.request(1, 4, &body);
            // throttle(4) topics(4) name(2+n) partitions(4) index(4) error(2)
            // hwm(8) lso(8) aborted(4) records(4+n)
            let at = 4 + 4 + 2 + topic.len() + 4 + 4;
            let error = i16::from_be_bytes(r[at..at + 2].try_into().unwrap());
            let hwm = i64::from_be_bytes(r[at + 2..at + 10].try_into().unwrap());
            let records_at = at + 2 + 8 + 8 + 4;
            let len = i32::from_be_bytes(r[records_at..records_at + 4].try_into().unwrap()).max(0)
                as usize;
            (error, hwm, r[records_at + 4..records_at + 4 + len].to_vec())
        }

        /// Produce v3 of `batch` to partition 0 of `topic` with acks=all;
        /// returns (error code, base offset).
        pub fn produce(&mut self, topic: &str, batch: &[u8]) -> (i16, i64) {
            let mut body = Vec::new();
            body.extend_from_slice(&(-1i16).to_be_bytes()); // transactional id
            body.extend_from_slice(&(-1i16).to_be_bytes()); // acks
            body.extend_from_slice(&30_000i32.to_be_bytes());
            body.extend_from_slice(&1i32.to_be_bytes()); // one topic
            body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
            body.extend_from_slice(topic.as_bytes());
            body.extend_from_slice(&1i32.to_be_bytes()); // one partition
            body.extend_from_slice(&0i32.to_be_bytes());
            body.extend_from_slice(&(batch.len() as i32).to_be_bytes());
            body.extend_from_slice(batch);
            let r = self.request(0, 3, &body);
            // topics(4) name(2+n) partitions(4) index(4) error(2) base offset(8)
            let at = 4 + 2 + topic.len() + 4 + 4;
            let error = i16::from_be_bytes(r[at..at + 2].try_into().unwrap());
            let offset = i64::from_be_bytes(r[at + 2..at + 10].try_into().unwrap());
            (error, offset)
        }
    }
}
