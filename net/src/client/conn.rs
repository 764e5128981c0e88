//! One pipelined connection to one broker.
//!
//! Requests are written in order under a write lock and their correlation
//! ids queued; a reader task matches each response frame to the oldest
//! pending request (Kafka answers a connection's requests in order). At most
//! `in_flight_max` requests are outstanding. Any I/O error, malformed frame
//! or timeout breaks the connection for good: every pending and later
//! request fails with that reason, and the owner reconnects.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::TcpStream;
use glommio::sync::{Semaphore, StaticPermit};
use glommio::task::JoinHandle;

use super::error::{ClientError, ClientResult};
use super::limits;
use crate::api::{ApiKey, ApiRequest};
use crate::frame::{decode_response, encode_request, FrameDecoder, RequestHeader};
use crate::msg::{ApiVersionsRequest, ApiVersionsResponse};

/// A response frame (without size prefix) and when it was read.
type Reply = (Bytes, Instant);

struct Pending {
    correlation_id: i32,
    reply: LocalSender<Reply>,
}

/// State shared by the connection handle and its reader task.
struct Shared {
    addr: SocketAddr,
    pending: RefCell<VecDeque<Pending>>,
    broken: RefCell<Option<String>>,
}

impl Shared {
    fn break_with(&self, reason: String) {
        let mut broken = self.broken.borrow_mut();
        if broken.is_none() {
            tracing::debug!(addr = %self.addr, %reason, "connection broken");
            *broken = Some(reason);
        }
        // Dropping the senders wakes every waiter with "closed".
        self.pending.borrow_mut().clear();
    }

    fn error(&self) -> ClientError {
        ClientError::Connection {
            addr: self.addr,
            reason: self
                .broken
                .borrow()
                .clone()
                .unwrap_or_else(|| "closed".into()),
        }
    }
}

pub struct Connection {
    shared: Rc<Shared>,
    writer: RefCell<Option<WriteHalf<TcpStream>>>,
    write_lock: Semaphore,
    write_buf: RefCell<Vec<u8>>,
    in_flight: Rc<Semaphore>,
    request_timeout: Duration,
    next_correlation_id: Cell<i32>,
    /// Version to use per API: the highest both sides support.
    versions: RefCell<HashMap<ApiKey, i16>>,
    reader: JoinHandle<()>,
}

impl Connection {
    /// Connects and negotiates API versions (ApiVersions v3, falling back to
    /// v0 as brokers that reject v3 answer).
    pub async fn connect(
        addr: SocketAddr,
        in_flight_max: usize,
        request_timeout: Duration,
    ) -> ClientResult<Rc<Connection>> {
        assert!((1..=limits::IN_FLIGHT_REQUESTS_MAX).contains(&in_flight_max));
        let connect_err = |reason: String| ClientError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let stream = TcpStream::connect_timeout(addr, limits::CONNECT_TIMEOUT.min(request_timeout))
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| connect_err(e.to_string()))?;
        let (reader, writer) = futures_lite::io::split(stream);
        let shared = Rc::new(Shared {
            addr,
            pending: RefCell::new(VecDeque::new()),
            broken: RefCell::new(None),
        });
        let reader_task = glommio::spawn_local(read_loop(reader, shared.clone())).detach();
        let conn = Rc::new(Connection {
            shared,
            writer: RefCell::new(Some(writer)),
            write_lock: Semaphore::new(1),
            write_buf: RefCell::new(Vec::new()),
            in_flight: Rc::new(Semaphore::new(in_flight_max as u64)),
            request_timeout,
            next_correlation_id: Cell::new(0),
            versions: RefCell::new(HashMap::new()),
            reader: reader_task,
        });
        let request = ApiVersionsRequest {
            client_software_name: "sluice-client".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        };
        let (reply, _) = conn
            .request_with_version(&request, 3, Duration::ZERO)
            .await?;
        let reply: ApiVersionsResponse = reply;
        for theirs in &reply.api_keys {
            if let Some(key) = ApiKey::from_code(theirs.api_key) {
                let ours = key.versions();
                let v = ours.max_version.min(theirs.max_version);
                if v >= ours.min_version.max(theirs.min_version) {
                    conn.versions.borrow_mut().insert(key, v);
                }
            }
        }
        Ok(conn)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn is_broken(&self) -> bool {
        self.shared.broken.borrow().is_some()
    }

    /// The negotiated version of `api`, or an error if the broker has none
    /// that Sluice's codec speaks.
    pub fn version(&self, api: ApiKey) -> ClientResult<i16> {
        self.versions.borrow().get(&api).copied().ok_or_else(|| {
            let ours = api.versions();
            ClientError::Unsupported {
                addr: self.shared.addr,
                api,
                ours_min: ours.min_version,
                ours_max: ours.max_version,
            }
        })
    }

    /// Sends a request and waits for its response. `extra_wait` extends the
    /// timeout for requests the broker may hold (long-poll fetches). Returns
    /// the response and the time from the request's write to the response's
    /// read.
    pub async fn request<R: ApiRequest>(
        self: &Rc<Self>,
        body: &R,
        extra_wait: Duration,
    ) -> ClientResult<(R::Response, Duration)> {
        let version = self.version(R::API_KEY)?;
        self.request_with_version(body, version, extra_wait).await
    }

    async fn request_with_version<R: ApiRequest>(
        self: &Rc<Self>,
        body: &R,
        version: i16,
        extra_wait: Duration,
    ) -> ClientResult<(R::Response, Duration)> {
        self.start_with_version(body, version, extra_wait)
            .await?
            .wait()
            .await
    }

    /// Writes a request and returns without waiting for its response, so
    /// that a caller can put several requests on the wire in a fixed order
    /// (idempotent producing needs each partition's batches in sequence
    /// order) and await the responses elsewhere.
    pub async fn start<R: ApiRequest>(
        self: &Rc<Self>,
        body: &R,
        extra_wait: Duration,
    ) -> ClientResult<InFlight<R>> {
        let version = self.version(R::API_KEY)?;
        self.start_with_version(body, version, extra_wait).await
    }

    async fn start_with_version<R: ApiRequest>(
        self: &Rc<Self>,
        body: &R,
        version: i16,
        extra_wait: Duration,
    ) -> ClientResult<InFlight<R>> {
        let slot = self
            .in_flight
            .acquire_static_permit(1)
            .await
            .map_err(|_| self.shared.error())?;
        let (tx, rx) = local_channel::new_bounded(1);
        let written_at = self.write(body, version, Some(tx)).await?;
        Ok(InFlight {
            conn: self.clone(),
            _slot: slot,
            rx,
            written_at,
            version,
            timeout: self.request_timeout + extra_wait,
            _response: PhantomData,
        })
    }

    /// Sends a request the broker will not answer (Produce with acks=0).
    pub async fn send_only<R: ApiRequest>(&self, body: &R) -> ClientResult<()> {
        let version = self.version(R::API_KEY)?;
        self.write(body, version, None).await.map(|_| ())
    }

    async fn write<R: ApiRequest>(
        &self,
        body: &R,
        version: i16,
        reply: Option<LocalSender<Reply>>,
    ) -> ClientResult<Instant> {
        let _lock = self
            .write_lock
            .acquire_permit(1)
            .await
            .map_err(|_| self.shared.error())?;
        if self.is_broken() {
            return Err(self.shared.error());
        }
        let correlation_id = self.next_correlation_id.get();
        self.next_correlation_id.set(correlation_id.wrapping_add(1));
        let frame = encode_request(
            &RequestHeader::new(R::API_KEY, version, correlation_id),
            body,
        );
        // One contiguous write per frame: with TCP_NODELAY, writing the
        // chunks one by one would put each in its own packet.
        let mut buf = self.write_buf.take();
        buf.clear();
        for chunk in frame.chunks() {
            buf.extend_from_slice(chunk);
        }
        if let Some(reply) = reply {
            self.shared.pending.borrow_mut().push_back(Pending {
                correlation_id,
                reply,
            });
        }
        let mut writer = self
            .writer
            .take()
            .expect("the write lock guards the writer");
        let written_at = Instant::now();
        let result = writer.write_all(&buf).await;
        self.writer.replace(Some(writer));
        // Keep the buffer's capacity, but not a huge one from a rare big frame.
        if buf.capacity() <= 4 << 20 {
            self.write_buf.replace(buf);
        }
        if let Err(e) = result {
            self.shared.break_with(format!("write: {e}"));
            return Err(self.shared.error());
        }
        Ok(written_at)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The reader task holds the socket's read half: stop it so the
        // socket closes with the connection.
        self.reader.cancel();
        self.shared.break_with("connection dropped".into());
    }
}

/// A request on the wire; [`InFlight::wait`] reads its response.
pub struct InFlight<R: ApiRequest> {
    conn: Rc<Connection>,
    _slot: StaticPermit,
    rx: LocalReceiver<Reply>,
    written_at: Instant,
    version: i16,
    timeout: Duration,
    _response: PhantomData<R>,
}

impl<R: ApiRequest> InFlight<R> {
    /// The response and the time from the request's write to its read.
    pub async fn wait(self) -> ClientResult<(R::Response, Duration)> {
        let shared = &self.conn.shared;
        let rx = &self.rx;
        let reply = glommio::timer::timeout(self.timeout, async { Ok(rx.recv().await) }).await;
        let (frame, read_at) = match reply {
            Ok(Some(r)) => r,
            Ok(None) => return Err(shared.error()),
            Err(_) => {
                // The response may still arrive and would then answer the
                // wrong request: the connection cannot be trusted any more.
                shared.break_with(format!("{:?} timed out", R::API_KEY));
                return Err(ClientError::Timeout {
                    addr: shared.addr,
                    api: R::API_KEY,
                    timeout_ms: self.timeout.as_millis() as u64,
                });
            }
        };
        let (_, response) = decode_response::<R::Response>(frame, self.version).map_err(|e| {
            let reason = e.to_string();
            shared.break_with(format!("undecodable {:?} response: {reason}", R::API_KEY));
            ClientError::Decode {
                addr: shared.addr,
                api: R::API_KEY,
                reason,
            }
        })?;
        Ok((response, read_at.saturating_duration_since(self.written_at)))
    }
}

async fn read_loop(mut reader: ReadHalf<TcpStream>, shared: Rc<Shared>) {
    let decoder = FrameDecoder::new(limits::RESPONSE_BYTES_MAX);
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let read_at = Instant::now();
                    let Some(p) = shared.pending.borrow_mut().pop_front() else {
                        shared.break_with("response to no request".into());
                        return;
                    };
                    let got = frame
                        .get(..4)
                        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    if got != Some(p.correlation_id) {
                        shared.break_with(format!(
                            "response correlation id {got:?}, expected {}",
                            p.correlation_id
                        ));
                        return;
                    }
                    // The requester may have given up (timeout); ignore.
                    let _ = p.reply.try_send((frame, read_at));
                }
                Ok(None) => break,
                Err(e) => {
                    shared.break_with(format!("bad frame: {e}"));
                    return;
                }
            }
        }
        match reader.read(&mut chunk).await {
            Ok(0) => {
                shared.break_with("closed by the broker".into());
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                shared.break_with(format!("read: {e}"));
                return;
            }
        }
        if shared.broken.borrow().is_some() {
            return;
        }
    }
}
