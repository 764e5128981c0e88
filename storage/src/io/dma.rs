//! The disk backend: glommio DMA files (O_DIRECT, io_uring). Must run inside
//! a glommio executor. Directory operations are rare (open, roll, retention)
//! and run on glommio's blocking thread pool so they never stall the shard.

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use glommio::io::{DmaFile, OpenOptions};

use super::{Directory, File, IoBuf, IoFuture};

pub struct DmaDirectory {
    path: PathBuf,
}

impl DmaDirectory {
    /// Creates the directory if needed.
    pub async fn open(path: &Path) -> io::Result<Self> {
        let p = path.to_path_buf();
        blocking(move || std::fs::create_dir_all(&p)).await?;
        probe_iopoll_once(path).await?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

thread_local!(static IOPOLL_PROBED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });

/// glommio decides once per device and thread whether the device supports
/// polled I/O, by reading the first block of the first DMA file opened. If
/// that file is empty the read "succeeds" at end of file, glommio wrongly
/// routes every later read to the polled ring, and each one fails with
/// EOPNOTSUPP on devices without polling. So the first DMA file this thread
/// opens is a one-page probe file with real data in it.
async fn probe_iopoll_once(dir: &Path) -> io::Result<()> {
    if IOPOLL_PROBED.with(|p| p.get()) {
        return Ok(());
    }
    let probe = dir.join(".iopoll-probe");
    let p = probe.clone();
    blocking(move || std::fs::write(&p, vec![0u8; crate::limits::PAGE_BYTES])).await?;
    let file = DmaFile::open(&probe).await.map_err(to_io)?;
    let read = file
        .read_at(0, crate::limits::PAGE_BYTES)
        .await
        .map(|r| r.len());
    let _ = file.close().await;
    blocking(move || std::fs::remove_file(probe)).await?;
    if let Err(e) = read {
        // Recorded by glommio as "no polling": what we wanted.
        tracing::debug!(error = %e, "iopoll probe read failed");
    }
    IOPOLL_PROBED.with(|p| p.set(true));
    Ok(())
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    glommio::executor().spawn_blocking(f).await
}

fn to_io(e: glommio::GlommioError<()>) -> io::Error {
    e.into()
}

impl Directory for DmaDirectory {
    fn open_file<'a>(&'a self, name: &'a str, create: bool) -> IoFuture<'a, Rc<dyn File>> {
        Box::pin(async move {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .dma_open(self.path.join(name))
                .await
                .map_err(to_io)?;
            Ok(Rc::new(DmaSegmentFile { file }) as Rc<dyn File>)
        })
    }

    fn list(&self) -> IoFuture<'_, Vec<String>> {
        let p = self.path.clone();
        Box::pin(async move {
            blocking(move || {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(&p)? {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        if let Ok(name) = entry.file_name().into_string() {
                            names.push(name);
                        }
                    }
                }
                Ok(names)
            })
            .await
        })
    }

    fn remove_file<'a>(&'a self, name: &'a str) -> IoFuture<'a, ()> {
        let p = self.path.join(name);
        Box::pin(async move { blocking(move || std::fs::remove_file(p)).await })
    }

    fn sync(&self) -> IoFuture<'_, ()> {
        let p = self.path.clone();
        Box::pin(async move { blocking(move || std::fs::File::open(p)?.sync_all()).await })
    }

    fn remove_all(&self) -> IoFuture<'_, ()> {
        let p = self.path.clone();
        Box::pin(async move { blocking(move || std::fs::remove_dir_all(p)).await })
    }
}

pub struct DmaSegmentFile {
    file: DmaFile,
}

impl File for DmaSegmentFile {
    fn alloc_buffer(&self, len: usize) -> IoBuf {
        // Not zeroed (that would cost a memset of every chunk): the log
        // zeroes the padding it writes.
        IoBuf::Dma(self.file.alloc_dma_buffer(len))
    }

    fn write_at(&self, buf: IoBuf, pos: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let len = buf.len();
            let dma = match buf {
                IoBuf::Dma(b) => b,
                IoBuf::Heap(v) => {
                    let mut b = self.file.alloc_dma_buffer(v.len());
                    b.as_bytes_mut().copy_from_slice(&v);
                    b
                }
            };
            let written = self.file.write_at(dma, pos).await.map_err(to_io)?;
            if written != len {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short direct write: {written} of {len} bytes"),
                ));
            }
            Ok(())
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Bytes> {
        Box::pin(async move {
            let r = self.file.read_at(pos, len).await.map_err(to_io)?;
            // The one copy of the read path: glommio's buffer is !Send and
            // the bytes must cross to the connection's shard.
            Ok(Bytes::copy_from_slice(&r))
        })
    }

    fn sync(&self) -> IoFuture<'_, ()> {
        Box::pin(async move { self.file.fdatasync().await.map_err(to_io) })
    }

    fn set_len(&self, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move { self.file.truncate(len).await.map_err(to_io) })
    }

    fn preallocate(&self, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move { self.file.pre_allocate(len, true).await.map_err(to_io) })
    }

    fn size(&self) -> IoFuture<'_, u64> {
        Box::pin(async move { self.file.file_size().await.map_err(to_io) })
    }
}
