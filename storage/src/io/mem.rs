//! The in-memory backend, for tests: it models what a disk may do at a crash
//! and can inject faults.
//!
//! Each file keeps its durable image plus the operations issued since the
//! last sync. [`MemDirectory::crash`] turns every file into what a power loss
//! may leave: each unsynced write independently lost, kept, or torn at an
//! arbitrary byte. Directory operations (create, remove) are modelled as
//! durable at once; the log syncs the directory after them anyway.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::rc::Rc;

use bytes::Bytes;

use super::{Directory, File, IoBuf, IoFuture};

/// A fault to inject into the next matching operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next write fails with this errno and changes nothing.
    FailWrite(i32),
    /// The next file sync fails with this errno; like Linux after a failed
    /// writeback, the unsynced writes are then lost from the durable image.
    FailSync(i32),
}

#[derive(Clone, Default)]
pub struct MemDirectory {
    state: Rc<RefCell<MemState>>,
}

#[derive(Default)]
struct MemState {
    files: BTreeMap<String, Rc<MemFile>>,
    faults: VecDeque<Fault>,
    /// Total bytes all files may hold; writes past it fail with ENOSPC.
    capacity_bytes: Option<u64>,
}

struct MemFile {
    dir: std::rc::Weak<RefCell<MemState>>,
    data: RefCell<FileData>,
}

#[derive(Default)]
struct FileData {
    current: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Op>,
}

enum Op {
    Write { pos: usize, bytes: Vec<u8> },
    SetLen(usize),
}

impl MemDirectory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn inject(&self, fault: Fault) {
        self.state.borrow_mut().faults.push_back(fault);
    }

    pub fn set_capacity_bytes(&self, capacity: Option<u64>) {
        self.state.borrow_mut().capacity_bytes = capacity;
    }

    pub fn file_names(&self) -> Vec<String> {
        self.state.borrow().files.keys().cloned().collect()
    }

    /// Current contents of a file (what a reader sees now).
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let st = self.state.borrow();
        st.files.get(name).map(|f| f.data.borrow().current.clone())
    }

    /// Replaces a file's contents, durably (for corruption tests).
    pub fn set_contents(&self, name: &str, bytes: Vec<u8>) {
        let mut st = self.state.borrow_mut();
        let file = st
            .files
            .entry(name.to_string())
            .or_insert_with(|| {
                Rc::new(MemFile {
                    dir: Rc::downgrade(&self.state),
                    data: RefCell::default(),
                })
            })
            .clone();
        let mut d = file.data.borrow_mut();
        d.current = bytes.clone();
        d.durable = bytes;
        d.unsynced.clear();
    }

    pub fn remove(&self, name: &str) {
        self.state.borrow_mut().files.remove(name);
    }

    /// Simulates a power loss: every file becomes its durable image plus a
    /// random selection of its unsynced writes, each kept whole, lost, or
    /// torn at a random byte. Deterministic for a given seed.
    pub fn crash(&self, seed: u64) {
        let mut rng = SplitMix(seed);
        let st = self.state.borrow();
        for file in st.files.values() {
            let mut d = file.data.borrow_mut();
            let mut image = std::mem::take(&mut d.durable);
            for op in std::mem::take(&mut d.unsynced) {
                match op {
                    Op::SetLen(len) => image.resize(len, 0),
                    Op::Write { pos, bytes } => {
                        let kept = match rng.next() % 3 {
                            0 => 0,
                            1 => bytes.len(),
                            _ => (rng.next() % (bytes.len() as u64 + 1)) as usize,
                        };
                        if kept > 0 {
                            if image.len() < pos + kept {
                                image.resize(pos + kept, 0);
                            }
                            image[pos..pos + kept].copy_from_slice(&bytes[..kept]);
                        }
                    }
                }
            }
            d.current = image.clone();
            d.durable = image;
        }
    }

    fn take_fault(&self, pred: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut st = self.state.borrow_mut();
        let i = st.faults.iter().position(pred)?;
        st.faults.remove(i)
    }
}

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Directory for MemDirectory {
    fn open_file<'a>(&'a self, name: &'a str, create: bool) -> IoFuture<'a, Rc<dyn File>> {
        Box::pin(async move {
            let mut st = self.state.borrow_mut();
            if let Some(f) = st.files.get(name) {
                return Ok(f.clone() as Rc<dyn File>);
            }
            if !create {
                return Err(io::Error::from(io::ErrorKind::NotFound));
            }
            let f = Rc::new(MemFile {
                dir: Rc::downgrade(&self.state),
                data: RefCell::default(),
            });
            st.files.insert(name.to_string(), f.clone());
            Ok(f as Rc<dyn File>)
        })
    }

    fn list(&self) -> IoFuture<'_, Vec<String>> {
        Box::pin(async move { Ok(self.file_names()) })
    }

    fn remove_file<'a>(&'a self, name: &'a str) -> IoFuture<'a, ()> {
        Box::pin(async move {
            match self.state.borrow_mut().files.remove(name) {
                Some(_) => Ok(()),
                None => Err(io::Error::from(io::ErrorKind::NotFound)),
            }
        })
    }

    fn sync(&self) -> IoFuture<'_, ()> {
        Box::pin(async move { Ok(()) })
    }

    fn remove_all(&self) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.state.borrow_mut().files.clear();
            Ok(())
        })
    }
}

impl MemFile {
    fn directory(&self) -> MemDirectory {
        MemDirectory {
            state: self.dir.upgrade().expect("file outlived its directory"),
        }
    }
}

impl File for MemFile {
    fn alloc_buffer(&self, len: usize) -> IoBuf {
        // Garbage, like recycled DMA memory, so that a writer forgetting to
        // zero its padding is caught by the tests.
        IoBuf::Heap(vec![0xa5; len])
    }

    fn write_at(&self, buf: IoBuf, pos: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let page = crate::limits::PAGE_BYTES;
            assert!(
                pos as usize % page == 0 && buf.len() % page == 0,
                "unaligned direct write"
            );
            let dir = self.directory();
            if let Some(Fault::FailWrite(errno)) =
                dir.take_fault(|f| matches!(f, Fault::FailWrite(_)))
            {
                return Err(io::Error::from_raw_os_error(errno));
            }
            let pos = pos as usize;
            let end = pos + buf.len();
            {
                let st = dir.state.borrow();
                if let Some(cap) = st.capacity_bytes {
                    let used: usize = st
                        .files
                        .values()
                        .map(|f| f.data.borrow().current.len())
                        .sum();
                    let growth = end.saturating_sub(self.data.borrow().current.len());
                    if (used + growth) as u64 > cap {
                        return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                    }
                }
            }
            let mut d = self.data.borrow_mut();
            if d.current.len() < end {
                d.current.resize(end, 0);
            }
            d.current[pos..end].copy_from_slice(buf.as_slice());
            d.unsynced.push(Op::Write {
                pos,
                bytes: buf.as_slice().to_vec(),
            });
            Ok(())
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Bytes> {
        Box::pin(async move {
            let d = self.data.borrow();
            let start = (pos as usize).min(d.current.len());
            let end = (start + len).min(d.current.len());
            Ok(Bytes::copy_from_slice(&d.current[start..end]))
        })
    }

    fn sync(&self) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let dir = self.directory();
            let mut d = self.data.borrow_mut();
            if let Some(Fault::FailSync(errno)) =
                dir.take_fault(|f| matches!(f, Fault::FailSync(_)))
            {
                // Linux drops the failed pages and marks them clean: a retry
                // would "succeed" without the data. Model exactly that.
                d.unsynced.clear();
                d.current = d.durable.clone();
                return Err(io::Error::from_raw_os_error(errno));
            }
            d.durable = d.current.clone();
            d.unsynced.clear();
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let mut d = self.data.borrow_mut();
            d.current.resize(len as usize, 0);
            d.unsynced.push(Op::SetLen(len as usize));
            Ok(())
        })
    }

    fn preallocate(&self, _len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move { Ok(()) })
    }

    fn size(&self) -> IoFuture<'_, u64> {
        Box::pin(async move { Ok(self.data.borrow().current.len() as u64) })
    }
}
