//! The inbound side: accept connections from other nodes' links, check their
//! hello, and hand every frame to the engine as an [`Inbound`].
//!
//! A connection is a stranger until its hello is checked: before that its
//! frames may claim at most `HELLO_BODY_BYTES_MAX` bytes and it has
//! `hello_timeout` to send one. A hello from another cluster, protocol
//! version or addressed to another node gets this node's hello back (so the
//! dialler can log why) and the connection is closed with one warning
//! naming both values. After the hello, any bad frame closes the connection
//! with one warning; nothing a peer sends can do more.
//!
//! Back-pressure: deliveries wait for room in the shard's [`Incoming`]
//! queue (bounded in deliveries and in bytes), and a connection's requests
//! wait for one of its
//! `INBOUND_REQUESTS_IN_FLIGHT_MAX` permits, each held by the request's
//! [`Responder`] and then by its answer until written. A waiting connection
//! does not read, so TCP pushes back to the sender.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use futures_lite::io::AsyncWriteExt;
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::{TcpListener, TcpStream};
use glommio::sync::{Semaphore, StaticPermit};
use glommio::Task;
use storage::notify::Signal;

use super::frame::{self, FrameError, Hello, Kind, RpcHeader, RpcKind, RPC_HEADER_BYTES};
use super::io::{self as rpc_io, Burst, Half, ReadError};
use super::recv::RecvBuffer;
use super::{Config, HelloError, PeerId};
use crate::limits::rpc as limits;

/// What another node's shard sent this shard.
#[derive(Debug)]
pub enum Inbound {
    /// A `consensus::wire` frame, whole (header included, CRC checked),
    /// 16-aligned: pass it to `consensus::wire::decode`.
    Raft { from: PeerId, frame: Bytes },
    /// A call. Answer it with `responder` (dropping it tells the caller at
    /// once that no answer will come). `body` is 16-aligned.
    Request {
        from: PeerId,
        method: u16,
        body: Bytes,
        responder: Responder,
    },
}

impl Inbound {
    pub fn from(&self) -> PeerId {
        match self {
            Inbound::Raft { from, .. } | Inbound::Request { from, .. } => *from,
        }
    }
}

/// Counters of one listener since it was bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerStats {
    pub connections_accepted: u64,
    /// Closed at once: the shard already serves `INBOUND_CONNECTIONS_MAX`.
    pub connections_refused: u64,
    pub connections_open: u64,
    /// Connections closed before or at the hello: no valid hello in time,
    /// or a hello this node refuses (cluster mismatches included).
    pub hellos_refused: u64,
    pub cluster_mismatches: u64,
    /// Connections closed after the hello for a bad frame.
    pub protocol_errors: u64,
    pub raft_frames: u64,
    pub requests: u64,
}

/// This shard's end of the node's RPC address.
pub struct Listener {
    shared: Rc<Shared>,
    local_addr: SocketAddr,
    accept: RefCell<Option<Task<()>>>,
}

/// What this shard receives, in arrival order per connection.
pub struct Incoming {
    receiver: LocalReceiver<(Inbound, u64)>,
    queued_bytes: Rc<Semaphore>,
}

impl Incoming {
    /// The next delivery; `None` once the listener is closed and every
    /// connection has ended. Taking it frees its bytes in the shard's
    /// inbound budget (`Config::inbound_queue_bytes_max`).
    pub async fn recv(&self) -> Option<Inbound> {
        let (inbound, bytes) = self.receiver.recv().await?;
        self.queued_bytes.signal(bytes);
        Some(inbound)
    }
}

struct Shared {
    config: Config,
    incoming: LocalSender<(Inbound, u64)>,
    /// Bytes of frames in `incoming`, not yet taken by the engine.
    queued_bytes: Rc<Semaphore>,
    closed: Cell<bool>,
    closing: Signal,
    open: Cell<usize>,
    connection_ended: Signal,
    stats: Cell<ListenerStats>,
}

impl Shared {
    fn bump(&self, f: impl FnOnce(&mut ListenerStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }
}

impl Listener {
    /// Binds `addr` (with SO_REUSEPORT, so every shard binds the same
    /// address) and starts accepting on this executor.
    pub fn bind(config: &Config, addr: SocketAddr) -> std::io::Result<(Listener, Incoming)> {
        config.check();
        let listener = TcpListener::bind(addr).map_err(std::io::Error::from)?;
        let local_addr = listener.local_addr().map_err(std::io::Error::from)?;
        let (incoming, receiver) = local_channel::new_bounded(limits::INBOUND_QUEUE_MAX);
        let queued_bytes = Rc::new(Semaphore::new(config.inbound_queue_bytes_max as u64));
        let shared = Rc::new(Shared {
            config: config.clone(),
            incoming,
            queued_bytes: queued_bytes.clone(),
            closed: Cell::new(false),
            closing: Signal::default(),
            open: Cell::new(0),
            connection_ended: Signal::default(),
            stats: Cell::new(ListenerStats::default()),
        });
        let accept = glommio::spawn_local(accept_loop(shared.clone(), listener));
        Ok((
            Listener {
                shared,
                local_addr,
                accept: RefCell::new(Some(accept)),
            },
            Incoming {
                receiver,
                queued_bytes,
            },
        ))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> ListenerStats {
        let mut stats = self.shared.stats.get();
        stats.connections_open = self.shared.open.get() as u64;
        stats
    }

    /// Stops accepting and closes every connection (answers not yet written
    /// are dropped; their callers see the connection break).
    pub async fn close(&self) {
        let shared = &self.shared;
        shared.closed.set(true);
        shared.closing.notify_all();
        let accept = self.accept.borrow_mut().take();
        if let Some(accept) = accept {
            accept.cancel().await;
        }
        loop {
            let ended = shared.connection_ended.notified();
            if shared.open.get() == 0 {
                return;
            }
            ended.await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The accept task is cancelled with its handle; connections end at
        // their next poll.
        self.shared.closed.set(true);
        self.shared.closing.notify_all();
    }
}

async fn accept_loop(shared: Rc<Shared>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(e) => {
                // Usually EMFILE: wait instead of spinning.
                tracing::warn!(error = %e, "accepting a node connection failed");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.open.get() >= limits::INBOUND_CONNECTIONS_MAX {
            shared.bump(|s| s.connections_refused += 1);
            tracing::debug!(
                limit = limits::INBOUND_CONNECTIONS_MAX,
                "node connection limit reached; closing a new connection"
            );
            continue;
        }
        shared.open.set(shared.open.get() + 1);
        shared.bump(|s| s.connections_accepted += 1);
        let shared = shared.clone();
        glommio::spawn_local(async move {
            let closing = shared.closing.notified();
            if !shared.closed.get() {
                futures_lite::future::or(serve(&shared, stream), closing).await;
            }
            shared.open.set(shared.open.get() - 1);
            shared.connection_ended.notify_all();
        })
        .detach();
    }
}

/// How a connection ended after its hello.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the shard stopped taking deliveries")]
    NoReceiver,
}

impl From<FrameError> for End {
    fn from(e: FrameError) -> Self {
        End::Read(ReadError::Frame(e))
    }
}

async fn serve(shared: &Rc<Shared>, stream: TcpStream) {
    let addr = stream.peer_addr().ok();
    if let Err(e) = rpc_io::configure(&stream) {
        tracing::debug!(?addr, error = %e, "cannot configure a node connection");
        return;
    }
    let config = &shared.config;
    let stream = Rc::new(RefCell::new(stream));
    let mut half = Half(stream.clone());
    let mut recv = RecvBuffer::new(limits::RECV_CHUNK_BYTES);

    let hello = rpc_io::read_frame_within(
        &mut half,
        &mut recv,
        limits::HELLO_BODY_BYTES_MAX,
        config.hello_timeout,
    )
    .await
    .map_err(End::from)
    .and_then(|frame| match frame.header.kind {
        Kind::Hello => Ok(Hello::decode(&frame.body())?),
        got => Err(FrameError::Unexpected {
            got,
            reason: "the first frame must be a hello",
        }
        .into()),
    });
    let hello = match hello {
        Ok(hello) => hello,
        Err(e) => {
            // Port scanners and half-started peers: not worth a warning.
            shared.bump(|s| s.hellos_refused += 1);
            tracing::debug!(?addr, error = %e, "node connection closed before a valid hello");
            return;
        }
    };
    let reply = config.hello_to(hello.from.node).encode();
    let send_reply = async {
        futures_lite::future::or(async { half.clone().write_all(&reply).await }, async {
            glommio::timer::sleep(config.hello_timeout).await;
            Err(std::io::ErrorKind::TimedOut.into())
        })
        .await
    };
    if let Err(refusal) = config.check_hello(&hello, None) {
        shared.bump(|s| {
            s.hellos_refused += 1;
            if matches!(refusal, HelloError::ClusterId { .. }) {
                s.cluster_mismatches += 1;
            }
        });
        tracing::warn!(
            ?addr,
            peer = hello.from.node,
            peer_shard = hello.from.shard,
            error = %refusal,
            "refusing a node connection"
        );
        // Best effort: the dialler learns whom it reached and logs it too.
        let _ = send_reply.await;
        return;
    }
    if let Err(e) = send_reply.await {
        tracing::debug!(?addr, error = %e, "cannot send hello to a node");
        return;
    }
    let from = hello.from;
    tracing::debug!(
        ?addr,
        peer = from.node,
        peer_shard = from.shard,
        "node connected"
    );

    let answers = Rc::new(Answers {
        queue: Default::default(),
        changed: Signal::default(),
        closed: Cell::new(false),
        frame_body_bytes_max: config.frame_body_bytes_max,
    });
    let permits = Rc::new(Semaphore::new(
        limits::INBOUND_REQUESTS_IN_FLIGHT_MAX as u64,
    ));
    let end = futures_lite::future::or(write_answers(&answers, Half(stream.clone())), async {
        match deliver(shared, half, recv, from, &answers, &permits).await {
            Err(end) => end,
            Ok(never) => match never {},
        }
    })
    .await;
    answers.closed.set(true);
    answers.queue.borrow_mut().clear();
    permits.close();
    match end {
        End::Read(ReadError::Frame(e)) => {
            shared.bump(|s| s.protocol_errors += 1);
            tracing::warn!(?addr, peer = from.node, peer_shard = from.shard, error = %e, "bad frame from a node; closing its connection");
        }
        end => {
            tracing::debug!(?addr, peer = from.node, peer_shard = from.shard, reason = %end, "node connection ended")
        }
    }
}

/// Reads frames after the hello and hands them to the engine.
async fn deliver(
    shared: &Shared,
    mut half: Half,
    mut recv: RecvBuffer,
    from: PeerId,
    answers: &Rc<Answers>,
    permits: &Rc<Semaphore>,
) -> Result<Infallible, End> {
    let body_bytes_max = shared.config.frame_body_bytes_max;
    let mut burst = Burst::default();
    loop {
        let frame = rpc_io::read_frame(&mut half, &mut recv, body_bytes_max).await?;
        let frame_bytes = frame.bytes.len() as u64;
        burst.handled(frame.bytes.len()).await;
        let inbound = match frame.header.kind {
            Kind::Raft => {
                shared.bump(|s| s.raft_frames += 1);
                Inbound::Raft {
                    from,
                    frame: frame.bytes,
                }
            }
            Kind::Rpc => {
                let (header, body) = frame.rpc()?;
                if header.kind != RpcKind::Request {
                    return Err(FrameError::Unexpected {
                        got: Kind::Rpc,
                        reason: "an answer on an accepted connection",
                    }
                    .into());
                }
                let permit = permits
                    .acquire_static_permit(1)
                    .await
                    .map_err(|_| End::NoReceiver)?;
                shared.bump(|s| s.requests += 1);
                Inbound::Request {
                    from,
                    method: header.method,
                    body,
                    responder: Responder {
                        answers: answers.clone(),
                        request_id: header.request_id,
                        method: header.method,
                        permit: Some(permit),
                    },
                }
            }
            Kind::Hello => {
                return Err(FrameError::Unexpected {
                    got: Kind::Hello,
                    reason: "a second hello",
                }
                .into())
            }
        };
        shared
            .queued_bytes
            .acquire(frame_bytes)
            .await
            .map_err(|_| End::NoReceiver)?;
        if shared.incoming.send((inbound, frame_bytes)).await.is_err() {
            shared.queued_bytes.signal(frame_bytes);
            return Err(End::NoReceiver);
        }
    }
}

/// One connection's answers on their way out.
struct Answers {
    queue: RefCell<VecDeque<Answer>>,
    changed: Signal,
    closed: Cell<bool>,
    frame_body_bytes_max: usize,
}

struct Answer {
    chunks: [Bytes; 3],
    /// The request's permit, released once the answer is written.
    _permit: StaticPermit,
}

async fn write_answers(answers: &Answers, mut half: Half) -> End {
    loop {
        let changed = answers.changed.notified();
        let batch: Vec<Answer> = {
            let mut queue = answers.queue.borrow_mut();
            let n = queue.len().min(limits::WRITE_IOVECS_MAX / 3);
            queue.drain(..n).collect()
        };
        if batch.is_empty() {
            changed.await;
            continue;
        }
        let chunks = batch.iter().flat_map(|a| a.chunks.iter());
        if let Err(e) = half.write_all_vectored(chunks).await {
            return ReadError::Io(e).into();
        }
    }
}

/// Why an answer was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespondError {
    /// The caller is told the request went unanswered.
    #[error("answer body of {body_bytes} bytes exceeds the maximum of {max} bytes")]
    TooLarge { body_bytes: usize, max: usize },
    /// The connection the request came on has closed; the caller has been
    /// told so by its own link. Normal during restarts.
    #[error("the connection the request came on is closed")]
    Closed,
}

/// The right to answer one request, on the connection it came on.
/// Dropping it unanswered sends an "unanswered" reply, so the caller fails
/// at once instead of at its timeout.
pub struct Responder {
    answers: Rc<Answers>,
    request_id: u64,
    method: u16,
    /// `Some` until answered.
    permit: Option<StaticPermit>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("request_id", &self.request_id)
            .field("method", &self.method)
            .finish()
    }
}

impl Responder {
    /// Sends `body` as the answer.
    pub fn respond(mut self, body: Bytes) -> Result<(), RespondError> {
        let body_bytes = RPC_HEADER_BYTES + body.len();
        let max = self.answers.frame_body_bytes_max;
        if body_bytes > max {
            return Err(RespondError::TooLarge { body_bytes, max });
        }
        self.answer(RpcKind::Response, body)
    }

    fn answer(&mut self, kind: RpcKind, body: Bytes) -> Result<(), RespondError> {
        let permit = self.permit.take().expect("answered once");
        if self.answers.closed.get() {
            return Err(RespondError::Closed);
        }
        let chunks = frame::encode_rpc(
            RpcHeader {
                request_id: self.request_id,
                method: self.method,
                kind,
            },
            body,
        );
        self.answers.queue.borrow_mut().push_back(Answer {
            chunks,
            _permit: permit,
        });
        self.answers.changed.notify_all();
        Ok(())
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.permit.is_some() {
            let _ = self.answer(RpcKind::Unanswered, Bytes::new());
        }
    }
}
