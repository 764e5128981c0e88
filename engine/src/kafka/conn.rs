//! Client connections: accept, read frames with `net`'s framing, start each
//! request in arrival order (its ordered part runs in the read loop, the rest
//! as its own task), and write the responses in request order.
//!
//! Bounds: a shard serves at most `connections_per_shard_max` connections;
//! each has at most `in_flight_requests_per_connection_max` requests between
//! "frame read" and "response written"; every frame's bytes are charged to
//! the shard's request memory until its response is written. When any bound
//! is reached the connection simply stops reading (TCP back-pressure), so
//! nothing queues without limit. A malformed stream is logged once and closes
//! only its own connection.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use futures_lite::AsyncReadExt;
use glommio::channels::local_channel;
use glommio::net::{TcpListener, TcpStream};
use net::{EncodedFrame, FrameDecoder, RequestError};

use super::recv::RecvBuffer;
use super::{dispatch, Peer};
use crate::shard::Shard;
use storage::notify::Signal;

/// Bytes asked of the socket per read when no large frame is pending.
const READ_CHUNK_BYTES: usize = 64 << 10;
/// Bytes of a bad request frame shown in the debug log.
const BAD_FRAME_LOG_BYTES: usize = 64;
/// Most bytes asked of the socket in one read.
const READ_BYTES_MAX: usize = 1 << 20;
/// Responses up to this size are copied into one buffer and written with one
/// send; larger ones are written chunk by chunk (record data untouched).
const COALESCE_BYTES_MAX: usize = 64 << 10;

/// Accepts connections on this shard's listener until cancelled.
pub async fn accept_loop(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Usually EMFILE: wait instead of spinning.
                tracing::warn!(shard = shard.id, error = %e, "accept failed");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let limit = shard.config.server.connections_per_shard_max;
        if shard.connections.open() >= limit {
            tracing::warn!(
                shard = shard.id,
                limit,
                "connection limit reached; refusing a connection"
            );
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        shard.connections.opened();
        let shard = shard.clone();
        glommio::spawn_local(async move {
            let peer = stream.peer_addr().ok();
            serve(&shard, stream, peer).await;
            shard.connections.closed();
        })
        .detach();
    }
}

/// A response on its way: the task computing it and the request memory it
/// holds until written.
struct Pending {
    response: glommio::Task<Option<EncodedFrame>>,
    frame_bytes: u64,
}

async fn serve(shard: &Rc<Shard>, stream: TcpStream, addr: Option<SocketAddr>) {
    let stream = Rc::new(RefCell::new(stream));
    let in_flight_max = shard.config.server.in_flight_requests_per_connection_max;
    // The channel is the in-flight bound: the reader waits when it is full.
    let (to_writer, from_reader) = local_channel::new_bounded::<Pending>(in_flight_max);
    let failed = Rc::new(Cell::new(false));

    let writer = {
        let stream = stream.clone();
        let shard = shard.clone();
        let failed = failed.clone();
        glommio::spawn_local(async move {
            let mut half = Half(stream);
            while let Some(pending) = from_reader.recv().await {
                // Awaiting in order is what keeps responses in request order.
                let response = pending.response.await;
                if let Some(frame) = response {
                    if !failed.get() {
                        if let Err(e) = write_frame(&mut half, frame).await {
                            tracing::debug!(error = %e, "write failed; closing connection");
                            failed.set(true);
                        }
                    }
                }
                shard.connections.request_memory.signal(pending.frame_bytes);
            }
            let _ = half.close().await;
        })
    };

    let mut peer = Rc::new(Peer {
        addr,
        client_id: None,
    });
    read_loop(shard, &stream, &mut peer, &to_writer, &failed).await;
    drop(to_writer);
    let _ = writer.await;
}

async fn read_loop(
    shard: &Rc<Shard>,
    stream: &Rc<RefCell<TcpStream>>,
    peer: &mut Rc<Peer>,
    to_writer: &local_channel::LocalSender<Pending>,
    failed: &Rc<Cell<bool>>,
) {
    let decoder = FrameDecoder::new(shard.config.server.frame_bytes_max);
    let mut buf = RecvBuffer::default();
    let mut half = Half(stream.clone());
    loop {
        // Whole frames already buffered are dispatched before reading more.
        let frame = match buf.take_frame(&decoder) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                if shard.connections.is_stopping() || failed.get() {
                    return;
                }
                match read_more(
                    &mut half,
                    &mut buf,
                    &decoder,
                    &shard.connections.stop_signal,
                )
                .await
                {
                    ReadOutcome::Data => continue,
                    ReadOutcome::Closed | ReadOutcome::Stopping => return,
                    ReadOutcome::Failed(e) => {
                        tracing::debug!(peer = ?peer.addr, error = %e, "read failed; closing connection");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(peer = ?peer.addr, error = %e, "bad frame; closing connection");
                return;
            }
        };
        let frame_bytes = frame.len() as u64;
        // Back-pressure: wait for request memory before taking more input.
        if shard
            .connections
            .request_memory
            .acquire(frame_bytes)
            .await
            .is_err()
        {
            return;
        }
        let release = |shard: &Shard| shard.connections.request_memory.signal(frame_bytes);
        // A copy of the first bytes, to show a bad frame's start; a
        // reference would keep the frame shared and force the log to copy
        // produced batches instead of stamping them in place.
        let mut frame_start = [0u8; BAD_FRAME_LOG_BYTES];
        let shown = frame.len().min(BAD_FRAME_LOG_BYTES);
        frame_start[..shown].copy_from_slice(&frame[..shown]);
        // Lenient like Kafka's broker: bytes after a well-formed body are
        // ignored (librdkafka 2.16 sends some), not a reason to disconnect.
        let response = match net::decode_request_lenient(frame) {
            Ok((header, _, _)) if !super::handles(header.api_key) => {
                // Decodable but not served (not advertised in ApiVersions):
                // closed like any request this broker cannot answer.
                tracing::warn!(peer = ?peer.addr, client_id = ?peer.client_id, api = ?header.api_key, "request for an API this broker does not serve; closing connection");
                release(shard);
                return;
            }
            Ok((header, request, ignored_bytes)) => {
                if ignored_bytes > 0 {
                    tracing::debug!(peer = ?peer.addr, api = ?header.api_key, version = header.api_version, ignored_bytes, "bytes after the request body ignored");
                }
                if peer.client_id.is_none() && header.client_id.is_some() {
                    // Once per connection; every request shares the Rc.
                    *peer = Rc::new(Peer {
                        addr: peer.addr,
                        client_id: header.client_id.clone(),
                    });
                }
                // Awaited here, before the next frame is read: this is what
                // keeps the connection's changes in request order.
                dispatch(shard, peer, header, request).await
            }
            Err(RequestError::UnsupportedVersion {
                api_key: net::ApiKey::ApiVersions,
                correlation_id,
                ..
            }) => {
                let frame = net::encode_api_versions_fallback(correlation_id);
                glommio::spawn_local(async move { Some(frame) })
            }
            Err(e) => {
                // Kafka closes the connection on any other undecodable request.
                tracing::warn!(peer = ?peer.addr, client_id = ?peer.client_id, error = %e, "bad request; closing connection");
                tracing::debug!(frame_start = ?&frame_start[..shown], "bad request bytes");
                release(shard);
                return;
            }
        };
        if to_writer
            .send(Pending {
                response,
                frame_bytes,
            })
            .await
            .is_err()
        {
            release(shard);
            return;
        }
    }
}

enum ReadOutcome {
    Data,
    Closed,
    Stopping,
    Failed(std::io::Error),
}

async fn read_more(
    half: &mut Half,
    buf: &mut RecvBuffer,
    decoder: &FrameDecoder,
    stop: &Signal,
) -> ReadOutcome {
    let start = buf.spare_start();
    // Inside a large frame, ask for exactly its missing bytes: the frame
    // then ends at the end of the buffer and owns its memory alone (see
    // `RecvBuffer::take_frame`). Otherwise read a chunk.
    let want = match buf.missing_bytes(decoder) {
        Some(missing) if missing >= READ_CHUNK_BYTES => missing.min(READ_BYTES_MAX),
        _ => READ_CHUNK_BYTES,
    };
    let spare = buf.spare(want);
    let stopped = stop.notified();
    let result = futures_lite::future::or(async { Some(half.read(spare).await) }, async {
        stopped.await;
        None
    })
    .await;
    match result {
        None => {
            buf.filled(start, 0);
            ReadOutcome::Stopping
        }
        Some(Ok(0)) => {
            buf.filled(start, 0);
            ReadOutcome::Closed
        }
        Some(Ok(n)) => {
            buf.filled(start, n);
            ReadOutcome::Data
        }
        Some(Err(e)) => {
            buf.filled(start, 0);
            ReadOutcome::Failed(e)
        }
    }
}

async fn write_frame(half: &mut Half, frame: EncodedFrame) -> std::io::Result<()> {
    if frame.len() <= COALESCE_BYTES_MAX && frame.chunks().len() > 1 {
        return half.write_all(&frame.to_bytes()).await;
    }
    for chunk in frame.chunks() {
        half.write_all(chunk).await?;
    }
    Ok(())
}

/// One direction of a connection's socket. The reader and the writer tasks
/// each hold one; glommio keeps separate readiness sources for reading and
/// writing, and the executor is single-threaded, so the borrows never
/// overlap (each lasts one synchronous poll).
struct Half(Rc<RefCell<TcpStream>>);

impl AsyncRead for Half {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_close(cx)
    }
}
