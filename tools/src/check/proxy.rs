//! A fault-injecting TCP proxy between the clients and one node: `tc netem`
//! is not available here, and a proxy needs neither root nor network
//! namespaces. Each direction of every connection can pass, stall (bytes
//! are held and the socket is no longer read, as TCP does behind a
//! partition: nothing is lost, it arrives when the link heals, or the
//! client gives up first), drop (bytes vanish; the connections that lost
//! bytes are reset when the link heals, since their framing is broken), or
//! be delayed. `reset` closes every connection at once.
//!
//! Plain threads and blocking sockets: a run has a few dozen connections,
//! and this keeps the proxy independent of the workload's executor.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::error::CheckError;
use super::limits;

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to broker: requests.
    Requests,
    /// Broker to client: responses.
    Responses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Stall,
    Drop,
    Delay(Duration),
}

struct Conn {
    client: TcpStream,
    broker: TcpStream,
    /// Bytes were dropped: the stream is broken for good.
    tainted: Arc<AtomicBool>,
}

impl Conn {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.broker.shutdown(Shutdown::Both);
    }
}

struct State {
    upstream: SocketAddr,
    modes: Mutex<[Mode; 2]>,
    conns: Mutex<HashMap<u64, Conn>>,
    next_id: AtomicU64,
    stopped: AtomicBool,
}

impl State {
    fn mode(&self, direction: Direction) -> Mode {
        self.modes.lock().expect("proxy lock")[direction as usize]
    }
}

pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `addr` and forwards every connection to `upstream`.
    pub fn start(addr: SocketAddr, upstream: SocketAddr) -> Result<Proxy, CheckError> {
        let listener = TcpListener::bind(addr)
            .map_err(CheckError::io(format!("proxy listening on {addr}")))?;
        // Non-blocking accept so the acceptor notices `stop`.
        listener
            .set_nonblocking(true)
            .map_err(CheckError::io("proxy listener"))?;
        let state = Arc::new(State {
            upstream,
            modes: Mutex::new([Mode::Pass, Mode::Pass]),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        });
        let acceptor = {
            let state = state.clone();
            std::thread::Builder::new()
                .name("check-proxy".into())
                .spawn(move || accept_loop(listener, state))
                .map_err(CheckError::io("starting the proxy thread"))?
        };
        Ok(Proxy {
            addr,
            state,
            acceptor: Some(acceptor),
        })
    }

    pub fn set(&self, direction: Direction, mode: Mode) {
        self.state.modes.lock().expect("proxy lock")[direction as usize] = mode;
    }

    /// Both directions pass again; connections that lost bytes are reset.
    pub fn heal(&self) {
        *self.state.modes.lock().expect("proxy lock") = [Mode::Pass, Mode::Pass];
        let conns = self.state.conns.lock().expect("proxy lock");
        for conn in conns.values() {
            if conn.tainted.load(Ordering::Relaxed) {
                conn.close();
            }
        }
    }

    /// Closes every connection; returns how many there were.
    pub fn reset_all(&self) -> usize {
        let conns = self.state.conns.lock().expect("proxy lock");
        for conn in conns.values() {
            conn.close();
        }
        conns.len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::Relaxed);
        self.reset_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while !state.stopped.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                if let Err(e) = connect(client, &state) {
                    tracing::debug!(error = %e, "proxy: connection not forwarded");
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(limits::PROXY_POLL);
            }
            Err(e) => {
                tracing::warn!(error = %e, "proxy: accept failed");
                std::thread::sleep(limits::PROXY_POLL);
            }
        }
    }
}

fn connect(client: TcpStream, state: &Arc<State>) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    if state.conns.lock().expect("proxy lock").len() >= limits::PROXY_CONNECTIONS_MAX {
        // Dropping the socket refuses the client; it retries later.
        return Err(std::io::Error::other("too many proxied connections"));
    }
    // A broker that is down refuses at once; one that is paused accepts
    // (the kernel completes the handshake) and the client's request waits.
    let broker = TcpStream::connect_timeout(&state.upstream, limits::PROXY_CONNECT_TIMEOUT)?;
    client.set_nodelay(true)?;
    broker.set_nodelay(true)?;
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let tainted = Arc::new(AtomicBool::new(false));
    state.conns.lock().expect("proxy lock").insert(
        id,
        Conn {
            client: client.try_clone()?,
            broker: broker.try_clone()?,
            tainted: tainted.clone(),
        },
    );
    let pumps = [
        (
            Direction::Requests,
            client.try_clone()?,
            broker.try_clone()?,
        ),
        (Direction::Responses, broker, client),
    ];
    for (direction, from, to) in pumps {
        let (state, tainted) = (state.clone(), tainted.clone());
        std::thread::Builder::new()
            .name("check-proxy-pump".into())
            .spawn(move || {
                pump(direction, from, to, &state, &tainted);
                if let Some(conn) = state.conns.lock().expect("proxy lock").remove(&id) {
                    conn.close();
                }
            })?;
    }
    Ok(())
}

/// Copies one direction until either side closes, applying the mode of the
/// moment to each chunk read.
fn pump(
    direction: Direction,
    mut from: TcpStream,
    mut to: TcpStream,
    state: &State,
    tainted: &AtomicBool,
) {
    let mut buf = vec![0u8; limits::PROXY_CHUNK_BYTES];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // While stalled, hold this chunk and read no further: the sender's
        // socket buffer fills and TCP pushes back, as behind a partition.
        let mode = loop {
            match state.mode(direction) {
                Mode::Stall if !state.stopped.load(Ordering::Relaxed) => {
                    std::thread::sleep(limits::PROXY_POLL)
                }
                mode => break mode,
            }
        };
        match mode {
            Mode::Drop => {
                tainted.store(true, Ordering::Relaxed);
                continue;
            }
            Mode::Delay(d) => std::thread::sleep(d),
            Mode::Pass | Mode::Stall => {}
        }
        if tainted.load(Ordering::Relaxed) {
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An echo server and a proxy in front of it.
    fn echo_behind_proxy() -> (Proxy, TcpStream) {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let upstream = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in echo.incoming() {
                let mut s = s.unwrap();
                std::thread::spawn(move || {
                    let mut r = s.try_clone().unwrap();
                    let _ = std::io::copy(&mut r, &mut s);
                });
            }
        });
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = Proxy::start(addr, upstream).unwrap();
        let client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        (proxy, client)
    }

    fn echo(client: &mut TcpStream, bytes: &[u8]) -> Option<Vec<u8>> {
        client.write_all(bytes).unwrap();
        let mut got = vec![0u8; bytes.len()];
        client.read_exact(&mut got).ok().map(|_| got)
    }

    #[test]
    fn stalled_bytes_arrive_after_healing_dropped_ones_never_and_reset_closes() {
        let (proxy, mut client) = echo_behind_proxy();
        assert_eq!(echo(&mut client, b"one").as_deref(), Some(&b"one"[..]));

        proxy.set(Direction::Responses, Mode::Stall);
        assert_eq!(echo(&mut client, b"two"), None, "held while stalled");
        proxy.heal();
        let mut got = [0u8; 3];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"two", "delivered once healed");

        proxy.set(Direction::Requests, Mode::Delay(Duration::from_millis(100)));
        let start = Instant::now();
        assert_eq!(echo(&mut client, b"three").as_deref(), Some(&b"three"[..]));
        assert!(start.elapsed() >= Duration::from_millis(100));
        proxy.heal();

        proxy.set(Direction::Requests, Mode::Drop);
        assert_eq!(echo(&mut client, b"four"), None, "dropped");
        proxy.heal();
        // The tainted connection was reset by healing.
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(matches!(client.read(&mut got), Ok(0) | Err(_)));

        let mut fresh = TcpStream::connect(proxy.addr).unwrap();
        fresh
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(echo(&mut fresh, b"five").as_deref(), Some(&b"five"[..]));
        // The reset connection may not have been forgotten yet.
        assert!(proxy.reset_all() >= 1);
        assert!(matches!(fresh.read(&mut got), Ok(0) | Err(_)));
    }
}
