//! Socket plumbing shared by both ends of a connection: TCP options, the
//! vectored send glommio does not offer, reading frames with a deadline.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use socket2::{SockRef, TcpKeepalive};

use super::frame::FrameError;
use super::recv::{Frame, RecvBuffer};
use crate::limits::rpc as limits;

/// Low latency for small frames (heartbeats), and a dead peer noticed in
/// seconds rather than after the kernel's 15 minutes of retransmissions.
pub(crate) fn configure(stream: &TcpStream) -> io::Result<()> {
    stream
        .set_nodelay(true)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let socket = SockRef::from(stream);
    socket.set_tcp_user_timeout(Some(Duration::from_millis(limits::TCP_USER_TIMEOUT_MS)))?;
    socket.set_tcp_keepalive(
        &TcpKeepalive::new()
            .with_time(Duration::from_millis(limits::TCP_KEEPALIVE_IDLE_MS))
            .with_interval(Duration::from_secs(1))
            .with_retries(3),
    )
}

/// One direction of a connection's socket, so that a reader and a writer
/// can run at once. glommio keeps separate readiness sources for reading and
/// writing and the executor is single-threaded, so the borrows never overlap
/// (each lasts one synchronous poll).
#[derive(Clone)]
pub(crate) struct Half(pub(crate) Rc<RefCell<TcpStream>>);

impl AsyncRead for Half {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_close(cx)
    }
}

impl Half {
    /// Writes every byte of `chunks`, in order, with as few system calls as
    /// the socket allows: one `sendmsg` over all of them, repeated for what
    /// a partial send left. glommio's streams write one buffer at a time, so
    /// the vectored send goes to the socket directly (non-blocking, like
    /// glommio's own first attempt); when the socket is full, glommio's
    /// write of the first remaining buffer waits for room.
    pub(crate) async fn write_all_vectored<'a>(
        &mut self,
        chunks: impl Iterator<Item = &'a Bytes>,
    ) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'a>> = chunks
            .filter(|c| !c.is_empty())
            .map(|c| IoSlice::new(c))
            .collect();
        assert!(slices.len() <= limits::WRITE_IOVECS_MAX, "flush too large");
        let mut rest: &mut [IoSlice<'_>] = &mut slices;
        while !rest.is_empty() {
            let sent = {
                let stream = self.0.borrow();
                SockRef::from(&*stream)
                    .send_vectored_with_flags(rest, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
            };
            let n = match sent {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let first: &[u8] = &rest[0];
                    match self.write(first).await? {
                        0 => return Err(io::ErrorKind::WriteZero.into()),
                        n => n,
                    }
                }
                Err(e) => return Err(e),
            };
            IoSlice::advance_slices(&mut rest, n);
        }
        Ok(())
    }
}

/// Counts the bytes a read loop handles and lets the executor's other
/// tasks run every `READ_BURST_BYTES`: a socket that always has data makes
/// reads complete without ever yielding.
#[derive(Default)]
pub(crate) struct Burst {
    bytes: usize,
}

impl Burst {
    pub(crate) async fn handled(&mut self, bytes: usize) {
        self.bytes += bytes;
        if self.bytes >= limits::READ_BURST_BYTES {
            self.bytes = 0;
            futures_lite::future::yield_now().await;
        }
    }
}

/// Why reading the next frame ended without one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("connection closed by the peer")]
    Closed,
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    #[error("no frame within {0:?}")]
    TimedOut(Duration),
}

/// The next frame of the stream (whole frames already buffered first).
pub(crate) async fn read_frame(
    half: &mut Half,
    recv: &mut RecvBuffer,
    body_bytes_max: usize,
) -> Result<Frame, ReadError> {
    loop {
        if let Some(frame) = recv.next_frame(body_bytes_max)? {
            return Ok(frame);
        }
        let n = half.read(recv.spare()).await?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        recv.filled(n);
    }
}

/// [`read_frame`] that gives up after `timeout`.
pub(crate) async fn read_frame_within(
    half: &mut Half,
    recv: &mut RecvBuffer,
    body_bytes_max: usize,
    timeout: Duration,
) -> Result<Frame, ReadError> {
    futures_lite::future::or(read_frame(half, recv, body_bytes_max), async {
        glommio::timer::sleep(timeout).await;
        Err(ReadError::TimedOut(timeout))
    })
    .await
}
