//! Node-to-node transport throughput over loopback: one `Link` on one
//! glommio executor sending to a `Listener` on another (each its own
//! thread), as two nodes' shards would.
//!
//! Raft cases: real `consensus::wire` frames (one append of one entry of
//! the given size) sent as fast as the link's queue takes them; the
//! receiving engine counts each frame and drops it (no decode: this measures
//! the transport). Call cases: 100-byte requests answered with 100 bytes,
//! one call at a time and 64 at a time.
//!
//! Each line is the median of `RUNS` windows of `RUN_TIME` after a warm-up.
//! "per CPU-s" divides by the process's CPU time over the window (both
//! executors), which moves less than wall-clock rates when the machine is
//! shared.
//!
//! Run: `cargo bench -p net --bench rpc` (results: docs/benchmarks.md).

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use consensus::wire::{self, Envelope};
use consensus::{Entry, EntryKind, Message, MessageBody};
use net::rpc::{Config, Inbound, Link, Listener, SendError};

const RUNS: usize = 7;
const RUN_TIME: Duration = Duration::from_millis(500);
const WARM_UP: Duration = Duration::from_millis(300);
const ENTRY_SIZES: [usize; 5] = [64, 1024, 16 << 10, 256 << 10, 1 << 20];
const CALL_BODY_BYTES: usize = 100;
const CALLS_IN_FLIGHT: [usize; 2] = [1, 64];

/// What the sender does; changed by the main thread between cases.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Raft(usize),
    Calls(usize),
    Stop,
}

#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    bytes: AtomicU64,
    calls: AtomicU64,
}

fn raft_frame(entry_bytes: usize) -> Bytes {
    wire::encode(vec![Envelope {
        group: 1,
        message: Message {
            from: 1,
            to: 2,
            term: 1,
            body: MessageBody::Append {
                prev_index: 0,
                prev_term: 1,
                commit: 0,
                entries: vec![Entry {
                    term: 1,
                    index: 1,
                    kind: EntryKind::Normal,
                    data: Bytes::from(vec![7u8; entry_bytes]),
                }],
            },
        },
    }])
}

fn process_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn receiver(
    addr_tx: mpsc::Sender<std::net::SocketAddr>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name("receiver")
        .make()
        .unwrap()
        .run(async move {
            let config = Config::new("bench", 2, 0, 1);
            let (listener, incoming) =
                Listener::bind(&config, "127.0.0.1:0".parse().unwrap()).unwrap();
            addr_tx.send(listener.local_addr()).unwrap();
            let engine = glommio::spawn_local(async move {
                while let Some(inbound) = incoming.recv().await {
                    match inbound {
                        Inbound::Raft { frame, .. } => {
                            counters.frames.fetch_add(1, Ordering::Relaxed);
                            counters
                                .bytes
                                .fetch_add(frame.len() as u64, Ordering::Relaxed);
                        }
                        Inbound::Request {
                            body, responder, ..
                        } => {
                            responder.respond(body).unwrap();
                        }
                    }
                }
            });
            while !stop.load(Ordering::Relaxed) {
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
            listener.close().await;
            engine.cancel().await;
        });
}

fn sender(
    addr: std::net::SocketAddr,
    case: Arc<AtomicUsize>,
    cases: Vec<Case>,
    counters: Arc<Counters>,
) {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name("sender")
        .make()
        .unwrap()
        .run(async move {
            let config = Config::new("bench", 1, 0, 1);
            let link = Rc::new(Link::new(&config, 2, addr));
            loop {
                let current = cases[case.load(Ordering::Relaxed)];
                match current {
                    Case::Stop => break,
                    Case::Raft(entry_bytes) => {
                        let frame = raft_frame(entry_bytes);
                        while cases[case.load(Ordering::Relaxed)] == current {
                            for _ in 0..64 {
                                match link.send_raft(frame.clone()) {
                                    Ok(()) => {}
                                    // Room comes as the writer drains; 100 µs is
                                    // 0.1 MB at 1 GB/s, far below the queue.
                                    Err(SendError::QueueFull) => {
                                        glommio::timer::sleep(Duration::from_micros(100)).await;
                                    }
                                    Err(e) => panic!("{e}"),
                                }
                            }
                            futures_lite::future::yield_now().await;
                        }
                    }
                    Case::Calls(in_flight) => {
                        let workers: Vec<_> = (0..in_flight)
                            .map(|_| {
                                let (link, case, cases, counters) =
                                    (link.clone(), case.clone(), cases.clone(), counters.clone());
                                glommio::spawn_local(async move {
                                    let body = Bytes::from(vec![1u8; CALL_BODY_BYTES]);
                                    while cases[case.load(Ordering::Relaxed)] == current {
                                        link.call(1, body.clone(), Duration::from_secs(10))
                                            .await
                                            .unwrap();
                                        counters.calls.fetch_add(1, Ordering::Relaxed);
                                    }
                                })
                            })
                            .collect();
                        for w in workers {
                            w.await;
                        }
                    }
                }
            }
            link.close().await;
        });
}

/// Median of `RUNS` windows: (count per second, count per CPU-second,
/// bytes per second).
fn measure(count: impl Fn() -> (u64, u64)) -> (f64, f64, f64) {
    std::thread::sleep(WARM_UP);
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let (n0, b0) = count();
        let (t0, cpu0) = (Instant::now(), process_cpu());
        std::thread::sleep(RUN_TIME);
        let (n1, b1) = count();
        let (secs, cpu) = (
            t0.elapsed().as_secs_f64(),
            (process_cpu() - cpu0).as_secs_f64(),
        );
        rates.push((
            (n1 - n0) as f64 / secs,
            (n1 - n0) as f64 / cpu,
            (b1 - b0) as f64 / secs,
        ));
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    rates[RUNS / 2]
}

/// What a receive chunk costs before any byte is read into it: allocated
/// and zeroed (glommio reads need initialised memory), in GB/s of chunk.
fn chunk_zeroing_rate() -> f64 {
    let chunk_bytes = net::limits::rpc::RECV_CHUNK_BYTES;
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut chunks = 0u64;
        while start.elapsed() < RUN_TIME / 5 {
            // Kept alive a little, as frames keep their chunk alive.
            let held: Vec<_> = (0..16)
                .map(|_| std::hint::black_box(bytes::BytesMut::zeroed(chunk_bytes)))
                .collect();
            chunks += held.len() as u64;
        }
        rates.push(chunks as f64 * chunk_bytes as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[RUNS / 2]
}

fn main() {
    let mut cases: Vec<Case> = ENTRY_SIZES.iter().map(|&n| Case::Raft(n)).collect();
    cases.extend(CALLS_IN_FLIGHT.iter().map(|&n| Case::Calls(n)));
    cases.push(Case::Stop);
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let case = Arc::new(AtomicUsize::new(0));
    let (addr_tx, addr_rx) = mpsc::channel();
    let receiving = {
        let (counters, stop) = (counters.clone(), stop.clone());
        std::thread::spawn(move || receiver(addr_tx, counters, stop))
    };
    let addr = addr_rx.recv().unwrap();
    let sending = {
        let (case, cases, counters) = (case.clone(), cases.clone(), counters.clone());
        std::thread::spawn(move || sender(addr, case, cases, counters))
    };
    println!("median of {RUNS} windows of {RUN_TIME:?} after {WARM_UP:?} of warm-up");
    for (i, c) in cases.iter().enumerate() {
        case.store(i, Ordering::Relaxed);
        match *c {
            Case::Raft(entry_bytes) => {
                let frame_bytes = raft_frame(entry_bytes).len();
                let (fps, per_cpu, bps) = measure(|| {
                    (
                        counters.frames.load(Ordering::Relaxed),
                        counters.bytes.load(Ordering::Relaxed),
                    )
                });
                println!(
                    "Raft frames, {entry_bytes:>8} B entry ({frame_bytes:>8} B frame): {fps:>10.0} frames/s {:>8.1} MB/s {per_cpu:>10.0} frames/CPU-s {:>8.1} MB/CPU-s",
                    bps / 1e6,
                    per_cpu * frame_bytes as f64 / 1e6
                );
            }
            Case::Calls(in_flight) => {
                let (cps, per_cpu, _) = measure(|| (counters.calls.load(Ordering::Relaxed), 0));
                println!(
                    "calls, {CALL_BODY_BYTES} B each way, {in_flight:>2} in flight:             {cps:>10.0} calls/s              {per_cpu:>10.0} calls/CPU-s"
                );
            }
            Case::Stop => {}
        }
    }
    sending.join().unwrap();
    println!(
        "receive chunk of {} KiB allocated and zeroed: {:.1} GB/s",
        net::limits::rpc::RECV_CHUNK_BYTES >> 10,
        chunk_zeroing_rate() / 1e9
    );
    stop.store(true, Ordering::Relaxed);
    receiving.join().unwrap();
}
