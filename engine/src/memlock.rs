//! Fitting glommio's registered io_uring memory into the locked-memory limit.
//!
//! glommio locks about [`limits::IO_MEMORY_LOCK_FACTOR`] times each
//! executor's `io_memory`, and silently falls back to unregistered buffers
//! when locking fails. So the broker decides up front: it shrinks the
//! per-shard amount until all shards fit `RLIMIT_MEMLOCK`, and logs what it
//! chose. Root (CAP_IPC_LOCK) and an unlimited rlimit are exempt.

use crate::limits;
use storage::io::hugepage::{mapped_bytes, HUGE_PAGE_BYTES};

/// The decision for every shard, with the reason for logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoMemoryPlan {
    /// Bytes to pass to glommio's `io_memory`, per shard, in shard order.
    pub per_shard_bytes: Vec<usize>,
    pub reason: String,
}

/// The locked-memory limit that applies to this process, or `None` when
/// there is none (root, or an unlimited rlimit).
pub fn memlock_limit_bytes() -> Option<u64> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return None;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-pointer for getrlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return Some(0);
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        Some(limit.rlim_cur)
    }
}

/// Chooses io memory per shard given what was asked and the limit.
pub fn plan(requested: &[usize], limit_bytes: Option<u64>) -> IoMemoryPlan {
    let Some(limit) = limit_bytes else {
        return IoMemoryPlan {
            per_shard_bytes: requested.to_vec(),
            reason: "no locked-memory limit applies (root or unlimited)".into(),
        };
    };
    let wanted: u64 = requested
        .iter()
        .map(|&b| (mapped_bytes(b) * limits::IO_MEMORY_LOCK_FACTOR) as u64)
        .sum();
    if wanted <= limit {
        return IoMemoryPlan {
            per_shard_bytes: requested.to_vec(),
            reason: format!("fits the locked-memory limit of {limit} bytes"),
        };
    }
    // Leave a quarter of the limit for everything else that locks memory
    // (glommio's rings themselves).
    let budget = limit * 3 / 4;
    let per_shard =
        (budget / (requested.len() as u64 * limits::IO_MEMORY_LOCK_FACTOR as u64)) as usize;
    // Whole huge pages once the pool is made of them: the kernel charges a
    // pinned huge page in full.
    let per_shard = if per_shard >= HUGE_PAGE_BYTES {
        per_shard / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES
    } else {
        per_shard & !4095
    };
    if per_shard >= limits::IO_MEMORY_PER_SHARD_MIN_BYTES {
        IoMemoryPlan {
            per_shard_bytes: requested.iter().map(|&b| b.min(per_shard)).collect(),
            reason: format!(
                "shrunk to {per_shard} bytes per shard to fit the locked-memory limit of {limit} bytes \
                 (asked for {wanted} locked in total)"
            ),
        }
    } else {
        IoMemoryPlan {
            per_shard_bytes: vec![limits::IO_MEMORY_PER_SHARD_MIN_BYTES; requested.len()],
            reason: format!(
                "the locked-memory limit of {limit} bytes is too small for {} shards: glommio will use \
                 unregistered buffers (slower I/O); raise `ulimit -l` to fix",
                requested.len()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_keeps_the_request() {
        assert_eq!(
            plan(&[10 << 20; 2], None).per_shard_bytes,
            vec![10 << 20; 2]
        );
    }

    #[test]
    fn shrinks_to_fit_eight_mib() {
        let limit = 8u64 << 20;
        let chosen = plan(&[10 << 20; 2], Some(limit));
        let locked: u64 = chosen.per_shard_bytes.iter().map(|&b| (b * 3) as u64).sum();
        assert!(locked <= limit, "{chosen:?}");
        assert!(chosen.per_shard_bytes[0] >= limits::IO_MEMORY_PER_SHARD_MIN_BYTES);
    }

    #[test]
    fn huge_page_pools_are_charged_in_whole_huge_pages() {
        // 3 MiB asked: mapped (and charged) as 4 MiB, times the lock factor.
        let limit = 10u64 << 20;
        let chosen = plan(&[3 << 20], Some(limit));
        assert!(chosen.reason.contains("shrunk"), "{chosen:?}");
        let b = chosen.per_shard_bytes[0];
        assert_eq!(b % HUGE_PAGE_BYTES, 0, "{chosen:?}");
        assert!((mapped_bytes(b) * 3) as u64 <= limit, "{chosen:?}");
        assert_eq!(
            plan(&[2 << 20], Some(6 << 20)).per_shard_bytes,
            vec![2 << 20]
        );
    }

    #[test]
    fn too_small_says_so() {
        let chosen = plan(&[10 << 20; 64], Some(1 << 20));
        assert!(chosen.reason.contains("unregistered"));
    }
}
