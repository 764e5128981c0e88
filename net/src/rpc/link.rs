//! The outbound side: one [`Link`] per remote node on each shard.
//!
//! States: `Idle` until the first send, then `Connecting` (TCP connect and
//! hello exchange), `Connected`, and back to `Connecting` when the
//! connection breaks. A failed attempt starts an outage: `Unreachable`, one
//! warning, the queue emptied, and every send fails at once until an
//! attempt succeeds (one info line). Between attempts the link pauses with
//! [`Backoff`]; the pause starts again from its initial value only after a
//! connection stayed up for `backoff_max`, so a peer that accepts and at
//! once hangs up is not hammered either.
//!
//! Queue: frames wait in one FIFO, bounded in frames and bytes (counting
//! those being written). The writer takes as many as fit in one vectored
//! send, so frames queued while a send is in progress leave together in the
//! next one. A call's frame is removed from the queue when the call gives
//! up; calls waiting for an answer fail with `ConnectionLost` when the
//! connection breaks (the request may or may not have been handled).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::io::AsyncWriteExt;
use glommio::channels::local_channel::{self, LocalSender};
use glommio::net::TcpStream;
use glommio::Task;
use storage::notify::Signal;

use super::backoff::Backoff;
use super::frame::{self, FrameError, Hello, Kind, RpcHeader, RpcKind, RPC_HEADER_BYTES};
use super::io::{self as rpc_io, Burst, Half, ReadError};
use super::recv::RecvBuffer;
use super::{Config, HelloError, NodeId};
use crate::limits::rpc as limits;

/// Why a frame was not queued. For a Raft frame, callers may ignore it
/// (Raft tolerates loss; the link has counted the drop).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("queue towards the peer is full")]
    QueueFull,
    #[error("peer is unreachable")]
    Unreachable,
    #[error("link is closed")]
    Closed,
    #[error("frame body of {body_bytes} bytes exceeds the maximum of {max} bytes")]
    TooLarge { body_bytes: usize, max: usize },
}

/// Why a call has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The request was not sent: queue full, peer unreachable, link closed,
    /// or a body over the frame limit.
    #[error("request not sent: {0}")]
    NotSent(#[from] SendError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection broke after the request was queued: it may or may not
    /// have been handled.
    #[error("connection lost before the answer arrived")]
    ConnectionLost,
    /// The peer dropped the request without answering.
    #[error("the peer did not answer the request")]
    Unanswered,
}

/// Where a link is; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Idle,
    Connecting,
    Connected,
    Unreachable,
    Closed,
}

/// Counters of one link since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Raft frames written to a connection.
    pub raft_frames_sent: u64,
    /// Raft frames refused (queue full, peer unreachable, link closed) or
    /// lost from the queue when an outage began.
    pub raft_frames_dropped: u64,
    /// Calls whose request was queued.
    pub calls: u64,
    /// Calls refused before queueing (queue full, unreachable, too large).
    pub calls_refused: u64,
    pub call_timeouts: u64,
    /// Answers that arrived after their call gave up.
    pub late_answers: u64,
    /// Bytes written, and the vectored sends that wrote them.
    pub bytes_sent: u64,
    pub flushes: u64,
    /// Successful connections (hello exchanged) and failed attempts.
    pub connects: u64,
    pub connect_failures: u64,
    /// Connections that broke after their hello.
    pub connections_lost: u64,
    /// Outages begun (one warning each) and ended (one info line each).
    pub outages: u64,
    pub recoveries: u64,
    /// Sum of the pauses before reconnect attempts.
    pub backoff_total: Duration,
}

/// A shard's connection to one remote node. Create it anywhere; use it only
/// on the glommio executor of the shard that created it (the first send
/// starts a task there). Dropping it closes the connection.
pub struct Link {
    shared: Rc<Shared>,
    task: RefCell<Option<Task<()>>>,
}

struct Queued {
    chunks: [Bytes; 3],
    bytes: usize,
    call: Option<u64>,
}

type Answer = Result<Bytes, CallError>;

struct Shared {
    config: Config,
    node: NodeId,
    addr: SocketAddr,
    queue: RefCell<VecDeque<Queued>>,
    /// Frames and bytes in the queue or being written.
    charged_frames: Cell<usize>,
    charged_bytes: Cell<usize>,
    queue_changed: Signal,
    pending: RefCell<HashMap<u64, LocalSender<Answer>>>,
    next_request_id: Cell<u64>,
    state: Cell<LinkState>,
    outage_since: Cell<Option<Instant>>,
    remote_shard_count: Cell<Option<u16>>,
    stats: Cell<LinkStats>,
    /// A drop was logged and no frame has been queued since.
    dropping: Cell<bool>,
}

impl Link {
    /// A link from this shard (`config`) to `node` at `addr`. No I/O
    /// happens until the first send.
    pub fn new(config: &Config, node: NodeId, addr: SocketAddr) -> Self {
        config.check();
        assert_ne!(node, config.node, "a link to this node itself");
        Self {
            shared: Rc::new(Shared {
                config: config.clone(),
                node,
                addr,
                queue: Default::default(),
                charged_frames: Cell::new(0),
                charged_bytes: Cell::new(0),
                queue_changed: Signal::default(),
                pending: Default::default(),
                next_request_id: Cell::new(1),
                state: Cell::new(LinkState::Idle),
                outage_since: Cell::new(None),
                remote_shard_count: Cell::new(None),
                stats: Cell::new(LinkStats::default()),
                dropping: Cell::new(false),
            }),
            task: RefCell::new(None),
        }
    }

    pub fn node(&self) -> NodeId {
        self.shared.node
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn state(&self) -> LinkState {
        self.shared.state.get()
    }

    pub fn stats(&self) -> LinkStats {
        self.shared.stats.get()
    }

    /// The remote node's shard count, from its last hello.
    pub fn remote_shard_count(&self) -> Option<u16> {
        self.shared.remote_shard_count.get()
    }

    /// Queues one frame made by `consensus::wire::encode` (panics on
    /// anything else: a bug in the caller). When the frame cannot be
    /// queued it is dropped, counted, and the reason returned; Raft resends.
    pub fn send_raft(&self, frame: Bytes) -> Result<(), SendError> {
        let header = frame::raft_frame_header(&frame, limits::FRAME_BODY_BYTES_MAX)
            .expect("send_raft takes one whole consensus::wire frame");
        let shared = &self.shared;
        let refused = if header.body_bytes > shared.config.frame_body_bytes_max {
            Some(SendError::TooLarge {
                body_bytes: header.body_bytes,
                max: shared.config.frame_body_bytes_max,
            })
        } else {
            shared.refusal(frame.len())
        };
        if let Some(error) = refused {
            shared.bump(|s| s.raft_frames_dropped += 1);
            if !shared.dropping.replace(true) {
                tracing::debug!(peer = shared.node, %error, "dropping Raft frames towards the peer");
            }
            return Err(error);
        }
        let bytes = frame.len();
        shared.push(Queued {
            chunks: [frame, Bytes::new(), Bytes::new()],
            bytes,
            call: None,
        });
        self.start();
        Ok(())
    }

    /// Sends a request and waits for its answer, at most `timeout`. `method`
    /// and `body` are the engine's (the receiver gets both in
    /// [`super::Inbound::Request`]); the answer is a 16-aligned slice of the
    /// receive buffer.
    pub async fn call(
        &self,
        method: u16,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, CallError> {
        let shared = &self.shared;
        let body_bytes = RPC_HEADER_BYTES + body.len();
        let max = shared.config.frame_body_bytes_max;
        let refused = if body_bytes > max {
            Some(SendError::TooLarge { body_bytes, max })
        } else if shared.pending.borrow().len() >= limits::CALLS_IN_FLIGHT_MAX {
            Some(SendError::QueueFull)
        } else {
            shared.refusal(frame::HEADER_BYTES + body_bytes.next_multiple_of(frame::FRAME_ALIGN))
        };
        if let Some(error) = refused {
            shared.bump(|s| s.calls_refused += 1);
            return Err(error.into());
        }
        let request_id = shared.next_request_id.get();
        shared.next_request_id.set(request_id + 1);
        let chunks = frame::encode_rpc(
            RpcHeader {
                request_id,
                method,
                kind: RpcKind::Request,
            },
            body,
        );
        let bytes = chunks.iter().map(Bytes::len).sum();
        let (answer_tx, answer_rx) = local_channel::new_bounded(1);
        shared.pending.borrow_mut().insert(request_id, answer_tx);
        shared.push(Queued {
            chunks,
            bytes,
            call: Some(request_id),
        });
        shared.bump(|s| s.calls += 1);
        self.start();
        // Whether the call is answered, times out or is dropped by its
        // caller, it stops waiting and its request is not sent any more.
        let _waiting = Waiting { shared, request_id };
        let answer = futures_lite::future::or(
            async {
                answer_rx
                    .recv()
                    .await
                    .unwrap_or(Err(CallError::ConnectionLost))
            },
            async {
                glommio::timer::sleep(timeout).await;
                Err(CallError::Timeout(timeout))
            },
        )
        .await;
        if let Err(CallError::Timeout(_)) = answer {
            shared.bump(|s| s.call_timeouts += 1);
        }
        answer
    }

    /// Closes the connection and stops reconnecting. Queued frames are
    /// dropped and waiting calls fail with [`SendError::Closed`].
    pub async fn close(&self) {
        let shared = &self.shared;
        shared.state.set(LinkState::Closed);
        let task = self.task.borrow_mut().take();
        if let Some(task) = task {
            task.cancel().await;
        }
        shared.fail_calls(CallError::NotSent(SendError::Closed));
        shared.unqueue(|_| true);
    }

    fn start(&self) {
        let mut task = self.task.borrow_mut();
        if task.is_none() && self.shared.state.get() != LinkState::Closed {
            self.shared.state.set(LinkState::Connecting);
            *task = Some(glommio::spawn_local(run(self.shared.clone())));
        }
    }
}

/// A call waiting for its answer; see `Link::call`.
struct Waiting<'a> {
    shared: &'a Shared,
    request_id: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let id = self.request_id;
        let waiting = self.shared.pending.borrow_mut().remove(&id);
        // No answer came (an answered call's entry is gone already): an
        // answer arriving now is late, and a request still queued is void.
        if waiting.is_some() {
            self.shared.unqueue(|q| q.call == Some(id));
        }
    }
}

impl Shared {
    fn bump(&self, f: impl FnOnce(&mut LinkStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }

    /// Why a frame of `bytes` cannot be queued now, if it cannot.
    fn refusal(&self, bytes: usize) -> Option<SendError> {
        if self.state.get() == LinkState::Closed {
            Some(SendError::Closed)
        } else if self.outage_since.get().is_some() {
            Some(SendError::Unreachable)
        } else if self.charged_frames.get() >= self.config.queue_frames_max
            || self.charged_bytes.get() + bytes > self.config.queue_bytes_max
        {
            Some(SendError::QueueFull)
        } else {
            None
        }
    }

    fn push(&self, queued: Queued) {
        self.charged_frames.set(self.charged_frames.get() + 1);
        self.charged_bytes
            .set(self.charged_bytes.get() + queued.bytes);
        self.queue.borrow_mut().push_back(queued);
        self.dropping.set(false);
        self.queue_changed.notify_all();
    }

    fn uncharge(&self, frames: usize, bytes: usize) {
        self.charged_frames.set(self.charged_frames.get() - frames);
        self.charged_bytes.set(self.charged_bytes.get() - bytes);
    }

    /// Removes the queued frames `which` selects; dropped Raft frames are
    /// counted, calls among them fail with `ConnectionLost` unless already
    /// answered otherwise.
    fn unqueue(&self, which: impl Fn(&Queued) -> bool) {
        let mut removed = Vec::new();
        self.queue.borrow_mut().retain(|q| {
            let remove = which(q);
            if remove {
                removed.push((q.bytes, q.call));
            }
            !remove
        });
        for (bytes, call) in removed {
            self.uncharge(1, bytes);
            match call {
                None => self.bump(|s| s.raft_frames_dropped += 1),
                Some(id) => {
                    if let Some(tx) = self.pending.borrow_mut().remove(&id) {
                        let _ = tx.try_send(Err(CallError::ConnectionLost));
                    }
                }
            }
        }
    }

    /// Fails every call waiting for an answer.
    fn fail_calls(&self, error: CallError) {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        for (_, tx) in pending {
            let _ = tx.try_send(Err(error.clone()));
        }
    }

    /// Takes the queued frames that fit in one vectored send.
    fn take_batch(&self) -> Vec<Queued> {
        let mut queue = self.queue.borrow_mut();
        let mut batch = Vec::new();
        let mut iovecs = 0;
        while let Some(next) = queue.front() {
            let n = next.chunks.iter().filter(|c| !c.is_empty()).count();
            if iovecs + n > limits::WRITE_IOVECS_MAX {
                break;
            }
            iovecs += n;
            batch.push(queue.pop_front().expect("front exists"));
        }
        batch
    }

    fn connected(&self, hello: &Hello) {
        self.remote_shard_count.set(Some(hello.shard_count));
        self.state.set(LinkState::Connected);
        self.bump(|s| s.connects += 1);
        if let Some(since) = self.outage_since.take() {
            self.bump(|s| s.recoveries += 1);
            tracing::info!(
                node = self.config.node,
                shard = self.config.shard,
                peer = self.node,
                addr = %self.addr,
                down_ms = since.elapsed().as_millis() as u64,
                "peer reachable again"
            );
        } else {
            tracing::debug!(peer = self.node, addr = %self.addr, "connected to peer");
        }
    }

    fn connection_lost(&self, reason: &ReadError) {
        tracing::debug!(peer = self.node, addr = %self.addr, %reason, "connection to peer lost");
        self.bump(|s| s.connections_lost += 1);
        self.state.set(LinkState::Connecting);
        self.fail_calls(CallError::ConnectionLost);
        // Their answers could only come on the connection that broke.
        self.unqueue(|q| q.call.is_some());
    }

    fn attempt_failed(&self, error: &ConnectError) {
        self.bump(|s| s.connect_failures += 1);
        if self.outage_since.get().is_some() {
            tracing::debug!(peer = self.node, addr = %self.addr, %error, "peer still unreachable");
            return;
        }
        tracing::warn!(
            node = self.config.node,
            shard = self.config.shard,
            peer = self.node,
            addr = %self.addr,
            %error,
            "peer unreachable; retrying with backoff"
        );
        self.outage_since.set(Some(Instant::now()));
        self.state.set(LinkState::Unreachable);
        self.bump(|s| s.outages += 1);
        self.fail_calls(CallError::NotSent(SendError::Unreachable));
        self.unqueue(|_| true);
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("connect failed: {0}")]
    Connect(std::io::Error),
    #[error("hello exchange failed: {0}")]
    Exchange(#[from] ReadError),
    #[error("hello refused: {0}")]
    Refused(#[from] HelloError),
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> Self {
        ConnectError::Exchange(ReadError::Io(e))
    }
}

impl From<FrameError> for ConnectError {
    fn from(e: FrameError) -> Self {
        ConnectError::Exchange(ReadError::Frame(e))
    }
}

/// The link's life: connect, serve, pause, again, until cancelled.
async fn run(shared: Rc<Shared>) {
    let config = &shared.config;
    let seed = config.seed ^ shared.node.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut backoff = Backoff::new(config.backoff_initial, config.backoff_max, seed);
    loop {
        match connect(&shared).await {
            Ok((stream, recv, hello)) => {
                shared.connected(&hello);
                let up_since = Instant::now();
                let reason = serve(&shared, stream, recv).await;
                shared.connection_lost(&reason);
                if up_since.elapsed() >= config.backoff_max {
                    backoff.reset();
                }
            }
            Err(error) => shared.attempt_failed(&error),
        }
        let pause = backoff.next_delay();
        shared.bump(|s| s.backoff_total += pause);
        glommio::timer::sleep(pause).await;
    }
}

/// TCP connect, then hellos both ways, each within its timeout.
async fn connect(
    shared: &Shared,
) -> Result<(Rc<RefCell<TcpStream>>, RecvBuffer, Hello), ConnectError> {
    let config = &shared.config;
    let stream = TcpStream::connect_timeout(shared.addr, config.connect_timeout)
        .await
        .map_err(|e| ConnectError::Connect(e.into()))?;
    rpc_io::configure(&stream).map_err(ConnectError::Connect)?;
    let stream = Rc::new(RefCell::new(stream));
    let mut half = Half(stream.clone());
    let mut recv = RecvBuffer::new(limits::RECV_CHUNK_BYTES);
    let exchange = async {
        half.write_all(&config.hello_to(shared.node).encode())
            .await?;
        let frame = rpc_io::read_frame(&mut half, &mut recv, limits::HELLO_BODY_BYTES_MAX).await?;
        if frame.header.kind != Kind::Hello {
            return Err(FrameError::Unexpected {
                got: frame.header.kind,
                reason: "the first frame must be a hello",
            }
            .into());
        }
        let hello = Hello::decode(&frame.body())?;
        config.check_hello(&hello, Some(shared.node))?;
        Ok::<_, ConnectError>(hello)
    };
    let hello = futures_lite::future::or(exchange, async {
        glommio::timer::sleep(config.hello_timeout).await;
        Err(ReadError::TimedOut(config.hello_timeout).into())
    })
    .await?;
    Ok((stream, recv, hello))
}

/// Runs one connection until it breaks: the writer sends the queue, the
/// reader matches answers to calls.
async fn serve(shared: &Rc<Shared>, stream: Rc<RefCell<TcpStream>>, recv: RecvBuffer) -> ReadError {
    let writer = write_loop(shared, Half(stream.clone()));
    let reader = async {
        match read_loop(shared, Half(stream), recv).await {
            Err(e) => e,
            Ok(never) => match never {},
        }
    };
    futures_lite::future::or(writer, reader).await
}

/// Releases the queue charge of frames being written, whether the write
/// finishes or the connection (and this future) is dropped.
struct InFlight<'a> {
    shared: &'a Shared,
    frames: usize,
    bytes: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.shared.uncharge(self.frames, self.bytes);
    }
}

async fn write_loop(shared: &Shared, mut half: Half) -> ReadError {
    loop {
        let changed = shared.queue_changed.notified();
        let batch = shared.take_batch();
        if batch.is_empty() {
            changed.await;
            continue;
        }
        let bytes: usize = batch.iter().map(|q| q.bytes).sum();
        let in_flight = InFlight {
            shared,
            frames: batch.len(),
            bytes,
        };
        let chunks = batch.iter().flat_map(|q| q.chunks.iter());
        if let Err(e) = half.write_all_vectored(chunks).await {
            return ReadError::Io(e);
        }
        let raft = batch.iter().filter(|q| q.call.is_none()).count() as u64;
        shared.bump(|s| {
            s.raft_frames_sent += raft;
            s.bytes_sent += bytes as u64;
            s.flushes += 1;
        });
        // A socket with room completes sends without yielding; let the
        // shard's other tasks run between flushes.
        drop((in_flight, batch));
        futures_lite::future::yield_now().await;
    }
}

async fn read_loop(
    shared: &Shared,
    mut half: Half,
    mut recv: RecvBuffer,
) -> Result<Infallible, ReadError> {
    let body_bytes_max = shared.config.frame_body_bytes_max;
    let mut burst = Burst::default();
    loop {
        let frame = rpc_io::read_frame(&mut half, &mut recv, body_bytes_max).await?;
        burst.handled(frame.bytes.len()).await;
        let (header, payload) = frame.rpc()?;
        let answer = match header.kind {
            RpcKind::Response => Ok(payload),
            RpcKind::Unanswered => Err(CallError::Unanswered),
            RpcKind::Request => {
                return Err(FrameError::Unexpected {
                    got: Kind::Rpc,
                    reason: "a request on a dialled connection",
                }
                .into())
            }
        };
        let waiting = shared.pending.borrow_mut().remove(&header.request_id);
        match waiting {
            Some(tx) => {
                let _ = tx.try_send(answer);
            }
            None => shared.bump(|s| s.late_answers += 1),
        }
    }
}
