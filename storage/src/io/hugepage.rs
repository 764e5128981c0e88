//! A global allocator that backs direct-I/O buffers with huge pages.
//!
//! glommio takes all of its DMA memory from the global allocator: the pool
//! it registers with io_uring (`io_memory`) and every buffer that does not
//! fit there. Ordinary 4 KiB pages are scattered in physical memory, so a
//! 1 MiB direct write is 256 scatter-gather segments; a device that takes a
//! descriptor per segment (virtio-blk without indirect descriptors: 254 per
//! request, 256 in the whole ring) then splits every large write and runs
//! one at a time, and io_uring registers such a pool as one bvec per page.
//! Measured here: 1 MiB log writes at 60 % of fio's rate, each split into
//! 1016 KiB + the rest and requeued while the ring was full.
//!
//! So allocations that look like DMA memory (page-aligned, at least one
//! huge page long) get their own 2 MiB-aligned mapping marked
//! `MADV_HUGEPAGE`: each 2 MiB of it is one physically contiguous page, one
//! segment, and io_uring registers it as one bvec. Everything else goes to
//! the system allocator untouched. If the kernel has no transparent huge
//! pages the mapping is simply made of small pages.
//!
//! A fresh mapping costs a page fault and the zeroing of every huge page
//! on first touch (14 % of a shard's CPU with four busy partitions, whose
//! chunk buffers did not fit glommio's pool), so each thread keeps a few
//! freed mappings, `CACHED_BYTES_MAX` at most, and hands them out again
//! for allocations of the same mapped length. Executor threads live as
//! long as the process; what a thread caches when it exits stays mapped.
//!
//! Binaries that do direct I/O install it:
//! `#[global_allocator] static ALLOC: storage::io::hugepage::HugePageAlloc = HugePageAlloc;`

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::ptr;

use crate::limits::PAGE_BYTES;

/// Size and alignment of one transparent huge page on x86-64 and arm64
/// (with 4 KiB base pages).
pub const HUGE_PAGE_BYTES: usize = 2 << 20;

/// Freed mappings a thread keeps for reuse, in bytes: two busy
/// partitions' worth of write chunks (two 4 MiB chunks each).
const CACHED_BYTES_MAX: usize = 16 << 20;
/// Freed mappings a thread keeps for reuse, in number.
const CACHED_MAPPINGS_MAX: usize = 8;

/// The global allocator; see the module documentation.
pub struct HugePageAlloc;

/// Freed mappings of one thread: `(address, mapped length)`.
struct MappingCache {
    slots: [(usize, usize); CACHED_MAPPINGS_MAX],
    used: usize,
    bytes: usize,
}

impl MappingCache {
    /// A cached mapping of exactly `len` bytes, if any.
    fn take(&mut self, len: usize) -> Option<*mut u8> {
        let i = self.slots[..self.used].iter().position(|s| s.1 == len)?;
        let (addr, _) = self.slots[i];
        self.used -= 1;
        self.slots[i] = self.slots[self.used];
        self.bytes -= len;
        Some(addr as *mut u8)
    }

    /// Keeps the mapping if there is room; false if the caller must unmap.
    fn keep(&mut self, addr: *mut u8, len: usize) -> bool {
        if self.used == CACHED_MAPPINGS_MAX || self.bytes + len > CACHED_BYTES_MAX {
            return false;
        }
        self.slots[self.used] = (addr as usize, len);
        self.used += 1;
        self.bytes += len;
        true
    }
}

thread_local! {
    // Const-initialised and without a destructor: no allocation, no
    // registration, so it is safe to use from inside the allocator.
    static CACHE: RefCell<MappingCache> = const {
        RefCell::new(MappingCache { slots: [(0, 0); CACHED_MAPPINGS_MAX], used: 0, bytes: 0 })
    };
}

/// A mapping for `size` bytes: a cached one of the same length, else fresh.
unsafe fn take_or_map(size: usize) -> *mut u8 {
    let len = mapping_len(size);
    let cached = CACHE
        .try_with(|c| c.try_borrow_mut().ok().and_then(|mut c| c.take(len)))
        .ok()
        .flatten();
    cached.unwrap_or_else(|| map_huge(size))
}

/// Keeps the mapping at `addr` for reuse, or unmaps it.
unsafe fn keep_or_unmap(addr: *mut u8, size: usize) {
    let len = mapping_len(size);
    let kept = CACHE
        .try_with(|c| c.try_borrow_mut().is_ok_and(|mut c| c.keep(addr, len)))
        .unwrap_or(false);
    if !kept {
        // An allocator must not unwind; if the kernel cannot unmap (ENOMEM
        // when splitting would pass vm.max_map_count), the mapping leaks.
        libc::munmap(addr as *mut libc::c_void, len);
    }
}

/// Page-aligned and at least a huge page long: a DMA buffer or pool.
fn is_dma_sized(layout: Layout) -> bool {
    layout.align() >= PAGE_BYTES
        && layout.align() <= HUGE_PAGE_BYTES
        && layout.size() >= HUGE_PAGE_BYTES
}

fn mapping_len(size: usize) -> usize {
    size.next_multiple_of(HUGE_PAGE_BYTES)
}

/// Bytes actually mapped for a page-aligned allocation of `size` bytes
/// (what the kernel charges when such memory is pinned, e.g. glommio's
/// registered pool): whole huge pages from one huge page up.
pub fn mapped_bytes(size: usize) -> usize {
    if size >= HUGE_PAGE_BYTES {
        mapping_len(size)
    } else {
        size
    }
}

/// A fresh 2 MiB-aligned anonymous mapping of `mapping_len(size)` bytes,
/// zeroed by the kernel, or null.
unsafe fn map_huge(size: usize) -> *mut u8 {
    let len = mapping_len(size);
    // Over-map by one huge page, then trim both ends to the alignment.
    let Some(over) = len.checked_add(HUGE_PAGE_BYTES) else {
        return ptr::null_mut();
    };
    let raw = libc::mmap(
        ptr::null_mut(),
        over,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    );
    if raw == libc::MAP_FAILED {
        return ptr::null_mut();
    }
    let start = raw as usize;
    let aligned = start.next_multiple_of(HUGE_PAGE_BYTES);
    let head = aligned - start;
    let tail = over - head - len;
    if head > 0 {
        libc::munmap(raw, head);
    }
    if tail > 0 {
        libc::munmap((aligned + len) as *mut libc::c_void, tail);
    }
    // Best effort: without THP the memory still works, in small pages.
    libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    aligned as *mut u8
}

unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_dma_sized(layout) {
            take_or_map(layout.size())
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_dma_sized(layout) {
            // Fresh anonymous mappings are zero-filled; cached ones are not.
            map_huge(layout.size())
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_dma_sized(layout) {
            keep_or_unmap(ptr, layout.size());
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        if !is_dma_sized(layout) && !is_dma_sized(new_layout) {
            return System.realloc(ptr, layout, new_size);
        }
        let new = self.alloc(new_layout);
        if !new.is_null() {
            ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

/// The kernel's transparent-huge-page mode (`always`, `madvise` or
/// `never`), or `None` if the kernel has no such setting. The allocator
/// needs `always` or `madvise`.
pub fn transparent_huge_pages_mode() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dma_sized_allocations_are_huge_page_aligned_and_usable() {
        let a = HugePageAlloc;
        for size in [HUGE_PAGE_BYTES, HUGE_PAGE_BYTES + 4096, 10 << 20] {
            let layout = Layout::from_size_align(size, PAGE_BYTES).unwrap();
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % HUGE_PAGE_BYTES, 0);
                let s = std::slice::from_raw_parts_mut(p, size);
                assert!(s.iter().all(|&b| b == 0));
                s.fill(0xab);
                let bigger = a.realloc(p, layout, size + HUGE_PAGE_BYTES);
                assert_eq!(bigger as usize % HUGE_PAGE_BYTES, 0);
                let s = std::slice::from_raw_parts(bigger, size);
                assert!(s.iter().all(|&b| b == 0xab));
                a.dealloc(
                    bigger,
                    Layout::from_size_align(size + HUGE_PAGE_BYTES, PAGE_BYTES).unwrap(),
                );
            }
        }
    }

    #[test]
    fn freed_mappings_are_reused_up_to_the_bound() {
        let a = HugePageAlloc;
        let layout = Layout::from_size_align(3 << 20, PAGE_BYTES).unwrap();
        unsafe {
            let first = a.alloc(layout);
            a.dealloc(first, layout);
            let again = a.alloc(layout);
            assert_eq!(again, first, "a freed mapping of the same length is reused");
            // Another length does not take it.
            let other = Layout::from_size_align(6 << 20, PAGE_BYTES).unwrap();
            let b = a.alloc(other);
            assert_ne!(b, first);
            a.dealloc(b, other);
            a.dealloc(again, layout);
            // More than the bound: the cache keeps at most CACHED_BYTES_MAX.
            let many: Vec<*mut u8> = (0..8).map(|_| a.alloc(layout)).collect();
            for &p in &many {
                std::slice::from_raw_parts_mut(p, layout.size()).fill(1);
                a.dealloc(p, layout);
            }
            let kept = CACHE.with(|c| c.borrow().bytes);
            assert!(kept <= CACHED_BYTES_MAX, "{kept}");
            assert!(kept >= 4 << 20, "{kept}");
        }
    }

    #[test]
    fn other_allocations_go_to_the_system_allocator() {
        assert!(!is_dma_sized(Layout::from_size_align(4 << 20, 8).unwrap()));
        assert!(!is_dma_sized(Layout::from_size_align(4096, 4096).unwrap()));
        assert!(is_dma_sized(
            Layout::from_size_align(2 << 20, 4096).unwrap()
        ));
        let a = HugePageAlloc;
        let layout = Layout::from_size_align(64, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            let p = a.realloc(p, layout, 4096);
            a.dealloc(p, Layout::from_size_align(4096, 8).unwrap());
        }
    }
}
