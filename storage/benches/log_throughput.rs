//! Append and read throughput of one partition log on one shard, on the real
//! disk. Not a test: run it by hand and record the results in
//! docs/benchmarks.md next to fio's numbers from the same session.
//!
//! ```sh
//! nice -n 19 cargo bench -p storage --bench log_throughput -- [DIR] [MIB_PER_RUN] [RUNS] [ONLY_BATCH_KIB]
//! ```
//!
//! Cases: batch sizes of 16 KiB, 1 MiB and 1034 KiB (1 KiB records; the
//! last is what a Kafka client's 1024-record batch weighs, not a multiple of
//! the page size), fsync `always` and none (an interval too long to fire),
//! with 1, 16 and 64 appends in flight. Like the broker, the bench takes its
//! DMA memory from the huge-page allocator.
//! Each round runs fio (the baseline: raw sequential O_DIRECT writes on the
//! same file system) and then every case once; medians over `RUNS` rounds.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_lite::future;
use storage::testing::make_batch;
use storage::{FsyncPolicy, Log, LogConfig, ShardStorage, ShardStorageConfig};

#[global_allocator]
static ALLOC: storage::io::hugepage::HugePageAlloc = storage::io::hugepage::HugePageAlloc;

/// A Kafka client's batch of 1024 records with 1 KiB values, in bytes.
const CLIENT_BATCH_BYTES: usize = 1_058_855;

/// Time bound of one append case.
const CASE_SECS_MAX: Duration = Duration::from_secs(4);

struct Case {
    batch_bytes: usize,
    fsync: FsyncPolicy,
    in_flight: usize,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "/tmp/sluice-storage-bench".into()),
    );
    let mib_per_run: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(512);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    // Optional: only cases with this batch size in KiB (e.g. 1024).
    let only_kib: Option<usize> = args.get(3).and_then(|s| s.parse().ok());
    let no_fsync = FsyncPolicy::Interval {
        ms: 3_600_000,
        bytes: u64::MAX / 2,
    };
    let mut cases = Vec::new();
    for batch_bytes in [16usize << 10, 1 << 20, CLIENT_BATCH_BYTES] {
        if only_kib.is_some_and(|k| k != batch_bytes >> 10) {
            continue;
        }
        for fsync in [FsyncPolicy::Always, no_fsync] {
            for in_flight in [1, 16, 64] {
                cases.push(Case {
                    batch_bytes,
                    fsync,
                    in_flight,
                });
            }
        }
    }
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(64 << 20)
        .make()
        .expect("executor")
        .run(async move {
            std::fs::create_dir_all(&dir).expect("bench dir");
            println!("dir={} MiB/run={mib_per_run} runs={runs}", dir.display());
            // Rounds interleave the baseline and every case, so that a
            // disturbance (other load on the machine) hits all of them.
            let fio_cases = [(16usize << 10, false), (1 << 20, false), (1 << 20, true)];
            let mut fio_rates = vec![Vec::new(); fio_cases.len()];
            let mut rates = vec![Vec::new(); cases.len()];
            let mut cache_rates = Vec::new();
            let mut disk_rates = Vec::new();
            for round in 0..runs {
                for (i, &(bs, sync)) in fio_cases.iter().enumerate() {
                    fio_rates[i].push(fio(&dir, bs, sync, mib_per_run));
                }
                for (i, case) in cases.iter().enumerate() {
                    let path = dir.join(format!("case-{round}-{i}"));
                    let _ = std::fs::remove_dir_all(&path);
                    rates[i].push(append_run(&path, case, mib_per_run).await);
                    let _ = std::fs::remove_dir_all(&path);
                }
                let path = dir.join(format!("read-{round}"));
                let _ = std::fs::remove_dir_all(&path);
                let (c, d) = read_run(&path, mib_per_run).await;
                cache_rates.push(c);
                disk_rates.push(d);
                let _ = std::fs::remove_dir_all(&path);
            }
            println!("| baseline | MB/s (median) | runs |");
            println!("|---|---|---|");
            for (i, &(bs, sync)) in fio_cases.iter().enumerate() {
                println!(
                    "| fio --direct=1 --ioengine=io_uring --rw=write --bs={}k{} | {:.0} | {} |",
                    bs >> 10,
                    if sync { " --fdatasync=1" } else { "" },
                    median(&mut fio_rates[i].clone()),
                    list(&fio_rates[i])
                );
            }
            println!();
            println!("| batch | fsync | appends in flight | append MB/s (median) | runs |");
            println!("|---|---|---|---|---|");
            for (i, case) in cases.iter().enumerate() {
                println!(
                    "| {} KiB | {} | {} | {:.0} | {} |",
                    case.batch_bytes >> 10,
                    if case.fsync == FsyncPolicy::Always { "always" } else { "none" },
                    case.in_flight,
                    median(&mut rates[i].clone()),
                    list(&rates[i])
                );
            }
            println!();
            println!(
                "| read, 1 MiB fetches of 16 KiB batches | cache {:.0} MB/s ({}) | disk {:.0} MB/s ({}) |",
                median(&mut cache_rates.clone()),
                list(&cache_rates),
                median(&mut disk_rates.clone()),
                list(&disk_rates)
            );
        });
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// fio's sequential O_DIRECT write bandwidth on the same file system, MB/s.
fn fio(dir: &Path, bs: usize, fdatasync: bool, mib: usize) -> f64 {
    let file = dir.join("fio.dat");
    let mut cmd = std::process::Command::new("fio");
    cmd.args([
        "--name=baseline",
        "--direct=1",
        "--ioengine=io_uring",
        "--rw=write",
        "--output-format=json",
    ])
    .arg(format!("--filename={}", file.display()))
    .arg(format!("--bs={bs}"))
    .arg(format!("--size={mib}M"));
    if fdatasync {
        cmd.arg("--fdatasync=1");
    }
    let out = cmd.output().expect("fio is installed");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "fio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fio json");
    report["jobs"][0]["write"]["bw_bytes"]
        .as_f64()
        .expect("bw_bytes")
        / 1e6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn batches(batch_bytes: usize, total_bytes: usize) -> Vec<BytesMut> {
    let records = (batch_bytes / 1024) as i32;
    let template = make_batch(records, batch_bytes - storage::batch::HEADER_BYTES, 1, 42);
    (0..total_bytes / batch_bytes)
        .map(|_| BytesMut::from(&template[..]))
        .collect()
}

/// Appends `mib` MiB in batches of the case's size with `in_flight`
/// concurrent appenders, each waiting for durability (or for the write,
/// under the no-fsync policy) before its next append. Returns MB/s.
async fn append_run(path: &Path, case: &Case, mib: usize) -> f64 {
    let shard = ShardStorage::new(ShardStorageConfig::default());
    let config = LogConfig {
        fsync: case.fsync,
        ..LogConfig::default()
    };
    let (log, _) = Log::open(path, config, &shard).await.expect("open");
    let total = mib << 20;
    let all = batches(case.batch_bytes, total);
    let per_task = all.len() / case.in_flight;
    let mut groups: Vec<Vec<BytesMut>> = Vec::new();
    let mut it = all.into_iter();
    for _ in 0..case.in_flight {
        groups.push(it.by_ref().take(per_task).collect());
    }
    let log = Rc::new(log);
    let start = Instant::now();
    let tasks: Vec<_> = groups
        .into_iter()
        .map(|group| {
            let log = log.clone();
            glommio::spawn_local(async move {
                let mut bytes = 0;
                for b in group {
                    // Slow cases (one sync per small batch) stop early.
                    if start.elapsed() > CASE_SECS_MAX {
                        break;
                    }
                    bytes += b.len();
                    log.append_durable(b, 1).await.expect("append");
                }
                bytes
            })
        })
        .collect();
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    log.close().await.expect("close");
    bytes as f64 / secs / 1e6
}

/// Writes `mib` MiB of 16 KiB batches, then reads them all with 1 MiB
/// fetches twice: once from the cache (big enough to hold them) and once
/// after reopening (cold cache: disk). Returns (cache MB/s, disk MB/s).
async fn read_run(path: &Path, mib: usize) -> (f64, f64) {
    let shard = ShardStorage::new(ShardStorageConfig {
        cache_bytes_max: (mib << 20) * 5,
    });
    let config = LogConfig::default();
    let (log, _) = Log::open(path, config.clone(), &shard).await.expect("open");
    let all = batches(16 << 10, mib << 20);
    let mut last = None;
    for b in all {
        last = Some(log.append(b, 1).await.expect("append"));
    }
    log.wait_durable(&last.expect("appended"))
        .await
        .expect("durable");
    let cache = read_all(&log, true).await;
    log.close().await.expect("close");
    let shard = ShardStorage::new(ShardStorageConfig::default());
    let (log, _) = Log::open(path, config, &shard).await.expect("reopen");
    let disk = read_all(&log, false).await;
    log.close().await.expect("close");
    (cache, disk)
}

async fn read_all(log: &Log, expect_cache: bool) -> f64 {
    let start = Instant::now();
    let mut offset = log.log_start_offset();
    let mut bytes = 0usize;
    let end = log.high_watermark();
    while offset < end {
        let r = log.read(offset, 1 << 20).await.expect("read");
        assert_eq!(r.from_cache, expect_cache);
        for b in &r.batches {
            bytes += b.len();
            let mut rest = &b[..];
            while !rest.is_empty() {
                let (h, _, tail) = storage::batch::split_batch(rest).expect("batch");
                offset = h.last_offset() + 1;
                rest = tail;
            }
        }
        future::yield_now().await;
    }
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}
