//! The node-to-node transport over real loopback TCP, between real glommio
//! executors: payload integrity both ways, calls and their failures,
//! reconnects, full queues, and hostile connections against a listener
//! while a good link keeps working.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use consensus::wire::{self, Envelope};
use consensus::{Entry, EntryKind, Message, MessageBody};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use net::limits::rpc::FRAME_BODY_BYTES_MAX;
use net::rpc::frame::{self, FrameHeader, Hello, Kind, RpcHeader, RpcKind};
use net::rpc::{
    CallError, Config, Inbound, Incoming, Link, LinkState, Listener, PeerId, Responder, SendError,
};
use rand::{Rng, SeedableRng};

/// Methods of the test engine.
const ECHO_REVERSED: u16 = 1;
const HOLD: u16 = 2;
const DROP: u16 = 3;

const LONG: Duration = Duration::from_secs(10);

fn run<T: 'static>(f: impl std::future::Future<Output = T> + 'static) -> T {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 * 1024)
        .make()
        .unwrap()
        .run(f)
}

/// Shard 0 of 1 on `node`, with short pauses so that tests reconnect fast.
fn config(node: u64) -> Config {
    let mut c = Config::new("test-cluster", node, 0, 1);
    c.backoff_initial = Duration::from_millis(5);
    c.backoff_max = Duration::from_millis(40);
    c
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Waits until `done` holds; a hang guard, not a timing assertion.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        glommio::timer::sleep(Duration::from_millis(2)).await;
    }
}

/// `bytes` bytes of a pattern that differs at every offset, stamped with
/// `seq`. Copied from one precomputed pattern: tests run unoptimised, and
/// building megabytes byte by byte would dominate them.
fn payload(seq: u64, bytes: usize) -> Vec<u8> {
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        (0..1u64 << 20)
            .map(|i| (i * 31 + (i >> 8) * 7) as u8)
            .collect()
    });
    let mut out = pattern[..bytes].to_vec();
    let stamp = seq.to_le_bytes();
    let n = bytes.min(8);
    out[..n].copy_from_slice(&stamp[..n]);
    out
}

/// A real Raft frame: one append of one entry of `bytes` bytes, group `seq`.
fn raft_frame(seq: u64, bytes: usize) -> Bytes {
    wire::encode(vec![Envelope {
        group: seq,
        message: Message {
            from: 1,
            to: 2,
            term: 3,
            body: MessageBody::Append {
                prev_index: seq,
                prev_term: 3,
                commit: 0,
                entries: vec![Entry {
                    term: 3,
                    index: seq + 1,
                    kind: EntryKind::Normal,
                    data: Bytes::from(payload(seq, bytes)),
                }],
            },
        },
    }])
}

/// Decodes a received Raft frame, checks its payload byte for byte and that
/// it was read in place; returns its sequence number.
fn check_raft_frame(frame: &Bytes) -> u64 {
    let decoded = wire::decode(frame).expect("a valid Raft frame");
    assert!(!decoded.realigned, "the frame arrived unaligned");
    let [envelope] = &decoded.envelopes[..] else {
        panic!("one envelope expected");
    };
    let MessageBody::Append { entries, .. } = &envelope.message.body else {
        panic!("an append expected");
    };
    let data = &entries[0].data;
    assert_eq!(data[..], payload(envelope.group, data.len())[..]);
    let frame_range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
    assert!(
        data.is_empty() || frame_range.contains(&(data.as_ptr() as usize)),
        "entry data copied out of the frame"
    );
    envelope.group
}

/// What the test engine saw.
#[derive(Default)]
struct Seen {
    raft: Vec<(PeerId, u64)>,
    held: Vec<Responder>,
}

/// The test engine: checks and records Raft frames, answers ECHO_REVERSED,
/// keeps HOLD requests unanswered, drops DROP requests.
fn serve(incoming: Incoming) -> (Rc<RefCell<Seen>>, glommio::Task<()>) {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let task = glommio::spawn_local({
        let seen = seen.clone();
        async move {
            while let Some(inbound) = incoming.recv().await {
                match inbound {
                    Inbound::Raft { from, frame } => {
                        let seq = check_raft_frame(&frame);
                        seen.borrow_mut().raft.push((from, seq));
                    }
                    Inbound::Request {
                        method,
                        body,
                        responder,
                        ..
                    } => {
                        assert_eq!(body.as_ptr() as usize % 16, 0, "request body unaligned");
                        match method {
                            ECHO_REVERSED => {
                                let reversed: Vec<u8> = body.iter().rev().copied().collect();
                                responder.respond(Bytes::from(reversed)).unwrap();
                            }
                            HOLD => seen.borrow_mut().held.push(responder),
                            _ => drop(responder),
                        }
                    }
                }
            }
        }
    });
    (seen, task)
}

async fn echo(link: &Link, body: &[u8]) -> Result<Bytes, CallError> {
    let answer = link
        .call(ECHO_REVERSED, Bytes::copy_from_slice(body), LONG)
        .await?;
    assert_eq!(answer.as_ptr() as usize % 16, 0, "answer unaligned");
    let reversed: Vec<u8> = body.iter().rev().copied().collect();
    assert_eq!(answer[..], reversed[..]);
    Ok(answer)
}

/// Sends a Raft frame, waiting for room when the queue is full.
async fn send_raft_waiting(link: &Link, frame: Bytes) {
    loop {
        match link.send_raft(frame.clone()) {
            Ok(()) => return,
            Err(SendError::QueueFull) => glommio::timer::sleep(Duration::from_millis(1)).await,
            Err(e) => panic!("send_raft: {e}"),
        }
    }
}

const FRAME_SIZES: [usize; 7] = [0, 64, 1000, 4096, 16_000, 70_000, 300_000];

/// One node of the both-ways test: a listener, a link to the other node,
/// `frames` Raft frames and `calls` calls sent while the other does the same.
async fn node(
    me: u64,
    other: u64,
    my_addr: mpsc::Sender<SocketAddr>,
    other_addr: mpsc::Receiver<SocketAddr>,
    finished: Arc<AtomicUsize>,
) {
    const FRAMES: u64 = 700;
    const CALLS: u64 = 300;
    let config = config(me);
    let (listener, incoming) = Listener::bind(&config, loopback()).unwrap();
    my_addr.send(listener.local_addr()).unwrap();
    let other_addr = other_addr.recv().unwrap();
    let (seen, engine) = serve(incoming);
    let link = Rc::new(Link::new(&config, other, other_addr));

    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let link = link.clone();
            glommio::spawn_local(async move {
                let body = payload(i, (i as usize * 97) % 5000);
                echo(&link, &body).await.unwrap();
            })
        })
        .collect();
    for seq in 0..FRAMES {
        send_raft_waiting(&link, raft_frame(seq, FRAME_SIZES[seq as usize % 7])).await;
    }
    for call in calls {
        call.await;
    }
    eventually("all frames from the other node", || {
        seen.borrow().raft.len() == FRAMES as usize
    })
    .await;
    let from = PeerId {
        node: other,
        shard: 0,
    };
    let expected: Vec<(PeerId, u64)> = (0..FRAMES).map(|seq| (from, seq)).collect();
    assert_eq!(
        seen.borrow().raft,
        expected,
        "frames lost, reordered or misattributed"
    );

    let listener_stats = listener.stats();
    assert_eq!(listener_stats.raft_frames, FRAMES);
    assert_eq!(listener_stats.requests, CALLS);

    // Both links have sent everything once both nodes received everything.
    finished.fetch_add(1, Ordering::SeqCst);
    eventually("the other node received everything", || {
        finished.load(Ordering::SeqCst) >= 2
    })
    .await;
    let stats = link.stats();
    assert_eq!(stats.raft_frames_sent, FRAMES);
    assert_eq!(stats.calls, CALLS);
    assert_eq!(stats.connects, 1);
    assert_eq!(stats.connections_lost, 0);
    assert!(
        stats.flushes < FRAMES + CALLS,
        "frames were not coalesced: {stats:?}"
    );
    // Neither node closes before both have checked their link.
    finished.fetch_add(1, Ordering::SeqCst);
    eventually("the other node checked its link", || {
        finished.load(Ordering::SeqCst) == 4
    })
    .await;
    link.close().await;
    listener.close().await;
    engine.cancel().await;
}

#[test]
fn many_frames_and_calls_both_ways_arrive_intact_and_in_order() {
    let (a_tx, a_rx) = mpsc::channel();
    let (b_tx, b_rx) = mpsc::channel();
    let finished = Arc::new(AtomicUsize::new(0));
    let spawn = |me, other, tx, rx, finished| {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(256 * 1024)
            .spawn(move || node(me, other, tx, rx, finished))
            .unwrap()
    };
    let a = spawn(1, 2, a_tx, b_rx, finished.clone());
    let b = spawn(2, 1, b_tx, a_rx, finished);
    a.join().unwrap();
    b.join().unwrap();
}

#[test]
fn calls_are_answered_or_fail_with_a_reason() {
    run(async {
        let (listener, incoming) = Listener::bind(&config(2), loopback()).unwrap();
        let (seen, _engine) = serve(incoming);
        let link = Rc::new(Link::new(&config(1), 2, listener.local_addr()));

        let calls: Vec<_> = (0..100u64)
            .map(|i| {
                let link = link.clone();
                glommio::spawn_local(async move { echo(&link, &payload(i, i as usize * 13)).await })
            })
            .collect();
        for call in calls {
            call.await.unwrap();
        }
        assert_eq!(
            link.call(DROP, Bytes::new(), LONG).await,
            Err(CallError::Unanswered)
        );
        let timeout = Duration::from_millis(50);
        assert_eq!(
            link.call(HOLD, Bytes::new(), timeout).await,
            Err(CallError::Timeout(timeout))
        );
        // The answer comes after its caller gave up: counted, not delivered.
        let held = seen.borrow_mut().held.pop().unwrap();
        held.respond(Bytes::from_static(b"late")).unwrap();
        eventually("the late answer", || link.stats().late_answers == 1).await;

        let too_large = Bytes::from(vec![0; FRAME_BODY_BYTES_MAX]);
        assert!(matches!(
            link.call(ECHO_REVERSED, too_large, LONG).await,
            Err(CallError::NotSent(SendError::TooLarge { .. }))
        ));
        echo(&link, b"still fine").await.unwrap();

        // A call waiting when the peer goes away fails at once.
        let waiting = glommio::spawn_local({
            let link = link.clone();
            async move { link.call(HOLD, Bytes::new(), LONG).await }
        });
        eventually("the request held", || seen.borrow().held.len() == 1).await;
        listener.close().await;
        assert_eq!(waiting.await, Err(CallError::ConnectionLost));

        let stats = link.stats();
        assert_eq!(stats.calls, 100 + 4);
        assert_eq!(stats.calls_refused, 1);
        assert_eq!(stats.call_timeouts, 1);
        assert_eq!(stats.connections_lost, 1);
        link.close().await;
        assert_eq!(link.state(), LinkState::Closed);
        assert_eq!(
            link.call(ECHO_REVERSED, Bytes::new(), LONG).await,
            Err(CallError::NotSent(SendError::Closed))
        );
    });
}

/// Bounds of the sum of the first `pauses` pauses: each is within
/// `[b/2, b]`, `b = min(max, initial * 2^n)`.
fn backoff_bounds(config: &Config, pauses: u32) -> (Duration, Duration) {
    let bases = (0..pauses).map(|n| (config.backoff_initial * (1 << n)).min(config.backoff_max));
    let max: Duration = bases.clone().sum();
    (bases.map(|b| b / 2).sum(), max)
}

#[test]
fn a_restarted_peer_is_reconnected_with_one_warning_per_outage() {
    run(async {
        let server = config(2);
        let client = config(1);
        let (listener, incoming) = Listener::bind(&server, loopback()).unwrap();
        let addr = listener.local_addr();
        let mut engine = serve(incoming).1;
        let link = Link::new(&client, 2, addr);
        echo(&link, b"before").await.unwrap();
        assert_eq!(link.state(), LinkState::Connected);
        assert_eq!(link.remote_shard_count(), Some(1));

        let mut listener = Some(listener);
        for outage in 1..=2u64 {
            listener.take().unwrap().close().await;
            engine.cancel().await;
            let failures_before = link.stats().connect_failures;
            eventually("three failed attempts", || {
                link.stats().connect_failures >= failures_before + 3
            })
            .await;
            let stats = link.stats();
            assert_eq!(link.state(), LinkState::Unreachable);
            assert_eq!((stats.outages, stats.recoveries), (outage, outage - 1));
            if outage == 1 {
                // One pause after the connection broke, one after each
                // failed attempt, growing exponentially.
                let (low, high) = backoff_bounds(&client, stats.connect_failures as u32 + 1);
                assert!(
                    (low..=high).contains(&stats.backoff_total),
                    "{:?} not in {low:?}..={high:?}",
                    stats.backoff_total
                );
            }
            // During the outage sends fail at once.
            assert_eq!(
                link.send_raft(raft_frame(1, 10)),
                Err(SendError::Unreachable)
            );
            assert_eq!(
                link.call(ECHO_REVERSED, Bytes::new(), LONG).await,
                Err(CallError::NotSent(SendError::Unreachable))
            );

            // The peer restarts on the same address.
            let deadline = Instant::now() + Duration::from_secs(30);
            let (l, incoming) = loop {
                match Listener::bind(&server, addr) {
                    Ok(bound) => break bound,
                    Err(e) => {
                        assert!(Instant::now() < deadline, "cannot rebind {addr}: {e}");
                        glommio::timer::sleep(Duration::from_millis(10)).await;
                    }
                }
            };
            listener = Some(l);
            engine = serve(incoming).1;
            eventually("reconnected", || link.state() == LinkState::Connected).await;
            let stats = link.stats();
            assert_eq!((stats.outages, stats.recoveries), (outage, outage));
            echo(&link, b"after").await.unwrap();
        }
        let stats = link.stats();
        assert_eq!(stats.connects, 3);
        assert_eq!(stats.connections_lost, 2);
        link.close().await;
        listener.unwrap().close().await;
    });
}

#[test]
fn a_full_queue_drops_raft_frames_and_refuses_calls() {
    run(async {
        // A peer that accepts connections and never says hello: the link
        // stays connecting and its queue only fills.
        let silent = glommio::net::TcpListener::bind(loopback()).unwrap();
        let addr = silent.local_addr().unwrap();
        let _silent = glommio::spawn_local(async move {
            let _stream = silent.accept().await;
            glommio::timer::sleep(Duration::from_secs(3600)).await;
        });
        let mut by_frames = config(1);
        by_frames.queue_frames_max = 4;
        by_frames.hello_timeout = Duration::from_secs(3600);
        let link = Link::new(&by_frames, 2, addr);
        let results: Vec<_> = (0..10)
            .map(|i| link.send_raft(raft_frame(i, 100)))
            .collect();
        assert_eq!(results[..4], [Ok(()), Ok(()), Ok(()), Ok(())]);
        assert!(results[4..].iter().all(|r| *r == Err(SendError::QueueFull)));
        assert_eq!(
            link.call(ECHO_REVERSED, Bytes::new(), LONG).await,
            Err(CallError::NotSent(SendError::QueueFull))
        );
        let stats = link.stats();
        assert_eq!(stats.raft_frames_dropped, 6);
        assert_eq!(stats.calls_refused, 1);
        assert_eq!(stats.raft_frames_sent, 0);
        assert_eq!(link.state(), LinkState::Connecting);
        link.close().await;
        assert_eq!(
            link.stats().raft_frames_dropped,
            10,
            "queued frames dropped at close"
        );

        let mut by_bytes = by_frames.clone();
        by_bytes.queue_frames_max = 1000;
        by_bytes.frame_body_bytes_max = 4096;
        by_bytes.queue_bytes_max = 8192;
        let link = Link::new(&by_bytes, 2, addr);
        let frame = raft_frame(0, 3000);
        assert_eq!(link.send_raft(frame.clone()), Ok(()));
        assert_eq!(link.send_raft(frame.clone()), Ok(()));
        assert_eq!(link.send_raft(frame), Err(SendError::QueueFull));
        assert!(matches!(
            link.send_raft(raft_frame(0, 5000)),
            Err(SendError::TooLarge { .. })
        ));
        link.close().await;
    });
}

#[test]
fn a_shard_that_does_not_take_deliveries_stops_reading_and_loses_nothing() {
    run(async {
        const FRAME_ENTRY_BYTES: usize = 100_000;
        let mut server = config(2);
        server.frame_body_bytes_max = 512 << 10;
        server.inbound_queue_bytes_max = 1 << 20;
        server.queue_bytes_max = 2 << 20;
        let (listener, incoming) = Listener::bind(&server, loopback()).unwrap();
        let mut client = config(1);
        client.queue_frames_max = 16;
        let link = Link::new(&client, 2, listener.local_addr());

        // Nobody takes deliveries: the listener queues about 1 MiB, then
        // stops reading; the socket buffers fill, then the link's queue.
        let mut accepted = 0u64;
        loop {
            match link.send_raft(raft_frame(accepted, FRAME_ENTRY_BYTES)) {
                Ok(()) => accepted += 1,
                Err(SendError::QueueFull) if link.state() == LinkState::Connected => break,
                Err(SendError::QueueFull) => {}
                Err(e) => panic!("send_raft: {e}"),
            }
            assert!(accepted < 100_000, "the listener never pushed back");
            glommio::timer::sleep(Duration::from_micros(200)).await;
        }
        let frame_bytes = raft_frame(0, FRAME_ENTRY_BYTES).len() as u64;
        let delivered = listener.stats().raft_frames;
        assert!(
            delivered <= (1 << 20) / frame_bytes + 1,
            "{delivered} frames of {frame_bytes} bytes handed over with a 1 MiB budget"
        );

        // The engine starts taking them: every accepted frame arrives, in order.
        for seq in 0..accepted {
            let Some(Inbound::Raft { frame, .. }) = incoming.recv().await else {
                panic!("a Raft frame expected");
            };
            assert_eq!(check_raft_frame(&frame), seq);
        }
        link.close().await;
        listener.close().await;
    });
}

/// Opens a raw connection, writes `bytes` (then closes the write side if
/// `finish`), and reads until the listener closes it; returns what it sent.
async fn hostile(addr: SocketAddr, bytes: &[u8], finish: bool) -> Vec<u8> {
    let mut stream = glommio::net::TcpStream::connect(addr).await.unwrap();
    // The listener may close before reading everything: a failed write is
    // part of the test.
    let _ = stream.write_all(bytes).await;
    if finish {
        let _ = stream.shutdown(std::net::Shutdown::Write).await;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = futures_lite::future::or(
        async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        },
        async {
            glommio::timer::sleep(Duration::from_secs(30)).await;
            false
        },
    )
    .await;
    assert!(closed, "the listener kept a hostile connection open");
    got
}

fn hello(cluster_id: &str) -> Vec<u8> {
    Hello {
        protocol_version: frame::PROTOCOL_VERSION,
        cluster_id: cluster_id.into(),
        from: PeerId { node: 9, shard: 0 },
        shard_count: 1,
        to_node: 2,
    }
    .encode()
    .to_vec()
}

fn rpc(kind: RpcKind, body: &[u8]) -> Vec<u8> {
    frame::encode_rpc(
        RpcHeader {
            request_id: 1,
            method: ECHO_REVERSED,
            kind,
        },
        Bytes::copy_from_slice(body),
    )
    .concat()
}

fn header(kind: Kind, body_bytes: u32) -> Vec<u8> {
    let mut h = FrameHeader::for_body(kind, &[]).encode().to_vec();
    h[8..12].copy_from_slice(&body_bytes.to_le_bytes());
    h
}

#[test]
fn hostile_connections_are_closed_while_a_good_link_keeps_working() {
    run(async {
        let mut server = config(2);
        server.hello_timeout = Duration::from_millis(200);
        server.frame_body_bytes_max = 1 << 20;
        server.queue_bytes_max = 2 << 20;
        let (listener, incoming) = Listener::bind(&server, loopback()).unwrap();
        let addr = listener.local_addr();
        let (seen, _engine) = serve(incoming);
        let link = Link::new(&config(1), 2, addr);
        let good_round = |round: u64| {
            let (link, seen) = (&link, seen.clone());
            async move {
                echo(link, &payload(round, 100)).await.unwrap();
                link.send_raft(raft_frame(round, 1000)).unwrap();
                eventually("the good Raft frame", || {
                    seen.borrow().raft.last().map(|r| r.1) == Some(round)
                })
                .await;
            }
        };
        good_round(0).await;

        let mut random = vec![0u8; 4096];
        rand::rngs::StdRng::seed_from_u64(11).fill(&mut random[..]);
        let with_hello = |rest: Vec<u8>| [hello("test-cluster"), rest].concat();
        let mut bad_crc = rpc(RpcKind::Request, b"payload");
        bad_crc[35] ^= 1;
        let mut bad_magic = header(Kind::Rpc, 0);
        bad_magic[..4].copy_from_slice(b"XXXX");
        let truncated = rpc(RpcKind::Request, &[7; 40])[..20].to_vec();
        // (name, bytes, close the write side, refused at the hello)
        let cases: Vec<(&str, Vec<u8>, bool, bool)> = vec![
            ("random bytes", random, false, true),
            ("silence", Vec::new(), false, true),
            (
                "hello claiming 1 MiB",
                header(Kind::Hello, 1 << 20),
                false,
                true,
            ),
            (
                "Raft frame before the hello",
                raft_frame(0, 10).to_vec(),
                false,
                true,
            ),
            ("wrong cluster id", hello("other-cluster"), false, true),
            ("bad CRC", with_hello(bad_crc), false, false),
            ("unknown magic", with_hello(bad_magic), false, false),
            (
                "length of 4 GiB",
                with_hello(header(Kind::Rpc, u32::MAX)),
                false,
                false,
            ),
            (
                "second hello",
                with_hello(hello("test-cluster")),
                false,
                false,
            ),
            (
                "an answer",
                with_hello(rpc(RpcKind::Response, b"x")),
                false,
                false,
            ),
            ("truncated frame", with_hello(truncated), true, false),
        ];
        for (round, (name, bytes, finish, at_hello)) in cases.into_iter().enumerate() {
            let got = hostile(addr, &bytes, finish).await;
            if name == "wrong cluster id" || !at_hello {
                // The listener said who it is before closing.
                let h = FrameHeader::decode(got[..16].try_into().unwrap(), 1024).unwrap();
                let theirs = Hello::decode(&got[16..16 + h.body_bytes]).unwrap();
                assert_eq!(theirs.cluster_id, "test-cluster", "{name}");
                assert_eq!(theirs.from.node, 2, "{name}");
            } else {
                assert!(got.is_empty(), "{name}: the listener answered a stranger");
            }
            good_round(round as u64 + 1).await;
        }

        eventually("hostile connections closed", || {
            listener.stats().connections_open == 1
        })
        .await;
        let stats = listener.stats();
        assert_eq!(stats.hellos_refused, 5, "{stats:?}");
        assert_eq!(stats.cluster_mismatches, 1, "{stats:?}");
        // The truncated frame ends in a clean close, not a protocol error.
        assert_eq!(stats.protocol_errors, 5, "{stats:?}");
        assert_eq!(stats.connections_accepted, 12);
        let link_stats = link.stats();
        assert_eq!((link_stats.connects, link_stats.connections_lost), (1, 0));
        link.close().await;
        listener.close().await;
    });
}

#[test]
fn a_link_to_another_cluster_is_refused_with_one_warning() {
    run(async {
        let (listener, incoming) = Listener::bind(&config(2), loopback()).unwrap();
        let _engine = serve(incoming);
        let mut other = config(1);
        other.cluster_id = "other-cluster".into();
        let link = Link::new(&other, 2, listener.local_addr());
        assert_eq!(
            link.call(ECHO_REVERSED, Bytes::new(), LONG).await,
            Err(CallError::NotSent(SendError::Unreachable))
        );
        eventually("several refused attempts", || {
            link.stats().connect_failures >= 3
        })
        .await;
        assert_eq!(link.stats().outages, 1);
        assert!(listener.stats().cluster_mismatches >= 3);
        link.close().await;
        listener.close().await;
    });
}

#[test]
fn consensus_frames_travel_unchanged() {
    // The transport's Raft kind is consensus::wire's frame.
    assert_eq!(Kind::Raft.magic(), wire::MAGIC);
    assert_eq!(Kind::Raft.version(), wire::VERSION);
    assert_eq!(frame::HEADER_BYTES, wire::HEADER_BYTES);
    assert_eq!(frame::FRAME_ALIGN, wire::FRAME_ALIGN);
    const { assert!(consensus::limits::FRAME_BYTES_MAX <= FRAME_BODY_BYTES_MAX) };

    run(async {
        let (listener, incoming) = Listener::bind(&config(2), loopback()).unwrap();
        let link = Link::new(&config(1), 2, listener.local_addr());
        // Coalesced heartbeats of 5,000 groups, then appends.
        let mut outgoing: Vec<Envelope> = (0..5000)
            .map(|group| Envelope {
                group,
                message: Message {
                    from: 1,
                    to: 2,
                    term: 4,
                    body: MessageBody::Heartbeat {
                        commit: group,
                        read_ctx: 0,
                    },
                },
            })
            .collect();
        outgoing.extend((0..3).map(|i| Envelope {
            group: 7,
            message: Message {
                from: 1,
                to: 2,
                term: 4,
                body: MessageBody::Append {
                    prev_index: i,
                    prev_term: 4,
                    commit: 0,
                    entries: vec![Entry {
                        term: 4,
                        index: i + 1,
                        kind: EntryKind::Normal,
                        data: Bytes::from(payload(i, 100_000)),
                    }],
                },
            },
        }));
        let frames = wire::encode_by_destination(outgoing.clone());
        for (_, frame) in &frames {
            link.send_raft(frame.clone()).unwrap();
        }
        let mut received = Vec::new();
        for (_, sent) in &frames {
            let Some(Inbound::Raft { from, frame }) = incoming.recv().await else {
                panic!("a Raft frame expected");
            };
            assert_eq!(from, PeerId { node: 1, shard: 0 });
            assert_eq!(frame, sent, "the frame changed on the way");
            let decoded = wire::decode(&frame).unwrap();
            assert!(!decoded.realigned);
            received.extend(decoded.envelopes);
        }
        assert_eq!(received, outgoing);
        link.close().await;
        listener.close().await;
    });
}
