//! The I/O backend: a directory of files with positional, aligned writes.
//!
//! The log only ever talks to these two traits, so the same logic runs on
//! the real disk ([`dma::DmaDirectory`], io_uring + O_DIRECT through glommio)
//! and in memory with injected faults ([`mem::MemDirectory`]).

pub mod dma;
pub mod hugepage;
pub mod mem;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;

/// A boxed, single-threaded I/O future.
pub type IoFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + 'a>>;

/// A directory holding one partition's files.
pub trait Directory {
    /// Opens `name`, creating it (empty) if `create` and it does not exist.
    fn open_file<'a>(&'a self, name: &'a str, create: bool) -> IoFuture<'a, Rc<dyn File>>;
    /// Names of the regular files in the directory.
    fn list(&self) -> IoFuture<'_, Vec<String>>;
    fn remove_file<'a>(&'a self, name: &'a str) -> IoFuture<'a, ()>;
    /// Makes creations and removals of entries durable (fsync of the
    /// directory itself).
    fn sync(&self) -> IoFuture<'_, ()>;
    /// Removes the directory and everything in it.
    fn remove_all(&self) -> IoFuture<'_, ()>;
}

/// One open file. Writes are positional, `limits::PAGE_BYTES`-aligned in
/// position and length; reads may be unaligned.
pub trait File {
    /// A buffer suitable for [`File::write_at`]. Its contents are
    /// unspecified (pooled DMA memory is not cleared): writers fill or zero
    /// every byte they write.
    fn alloc_buffer(&self, len: usize) -> IoBuf;
    /// Writes all of `buf` at `pos`. A short write is an error.
    fn write_at(&self, buf: IoBuf, pos: u64) -> IoFuture<'_, ()>;
    /// Reads up to `len` bytes at `pos`; fewer only at the end of the file.
    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Bytes>;
    /// fdatasync: everything written before this call is durable when it
    /// returns Ok.
    fn sync(&self) -> IoFuture<'_, ()>;
    fn set_len(&self, len: u64) -> IoFuture<'_, ()>;
    /// Reserves blocks up to `len` without changing the file size, so that
    /// appends do not allocate (and fdatasync has less metadata to commit).
    /// Shrinking the file with `set_len` releases what was not used.
    fn preallocate(&self, len: u64) -> IoFuture<'_, ()>;
    fn size(&self) -> IoFuture<'_, u64>;
}

/// A write buffer: DMA memory for the disk backend, plain heap for memory.
pub enum IoBuf {
    Dma(glommio::io::DmaBuffer),
    Heap(Vec<u8>),
}

impl IoBuf {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            IoBuf::Dma(b) => b.as_bytes(),
            IoBuf::Heap(v) => v,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            IoBuf::Dma(b) => b.as_bytes_mut(),
            IoBuf::Heap(v) => v,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shortens the buffer to `len` bytes (the aligned length to write).
    pub fn truncate(&mut self, len: usize) {
        assert!(len <= self.len());
        match self {
            IoBuf::Dma(b) => b.trim_to_size(len),
            IoBuf::Heap(v) => v.truncate(len),
        }
    }
}

pub fn align_down(v: u64) -> u64 {
    v - v % crate::limits::PAGE_BYTES as u64
}

pub fn align_up(v: u64) -> u64 {
    align_down(v + crate::limits::PAGE_BYTES as u64 - 1)
}
