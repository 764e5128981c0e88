//! The single-node broker against kcat, confluent-kafka and kafka-python;
//! restart, crash and hostile-input behaviour.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tests::{kcat, python, raw, Broker, BrokerOptions, Streaming};

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every message of partition 0 of `topic` as "offset value" lines (kcat).
fn consume_all(broker: &Broker, topic: &str) -> Vec<String> {
    lines(&kcat(
        broker,
        &["-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o %s\n"],
        b"",
    ))
}

/// The i-th test message: a key, and a value with characters a naive codec
/// would mangle (spaces, punctuation, UTF-8).
fn message(i: usize) -> (String, String) {
    (
        format!("key-{}", i % 97),
        format!("value {i} ~ «ünïcødé» #{:x}", i * 2654435761usize),
    )
}

#[test]
fn kcat_metadata_produce_and_consume_by_offset_and_timestamp() {
    let broker = Broker::start(BrokerOptions::default());
    let topic = "kcat-e2e";
    let total = 10_000;
    let half = total / 2;

    let produce = |range: std::ops::Range<usize>| {
        let input: String = range
            .map(|i| {
                let (k, v) = message(i);
                format!("{k}\t{v}\n")
            })
            .collect();
        kcat(
            &broker,
            &[
                "-P",
                "-t",
                topic,
                "-K",
                "\t",
                "-H",
                "source=e2e",
                "-H",
                "run=kcat",
                "-X",
                "acks=all",
            ],
            input.as_bytes(),
        );
    };
    produce(0..half);
    // A clear gap in timestamps between the halves, so that a lookup by
    // timestamp lands exactly on the second half's first batch.
    std::thread::sleep(Duration::from_millis(50));
    let split_ms = now_ms();
    std::thread::sleep(Duration::from_millis(50));
    produce(half..total);

    let metadata = String::from_utf8(kcat(&broker, &["-L"], b"").stdout).unwrap();
    assert!(metadata.contains("1 brokers:"), "{metadata}");
    assert!(
        metadata.contains(&format!("broker 0 at {}", broker.bootstrap())),
        "{metadata}"
    );
    assert!(
        metadata.contains(&format!("topic \"{topic}\" with 1 partitions")),
        "{metadata}"
    );
    assert!(
        metadata.contains("leader 0, replicas: 0, isrs: 0"),
        "{metadata}"
    );

    let format = "%o\t%k\t%s\t%h\n";
    let consumed = lines(&kcat(
        &broker,
        &["-C", "-t", topic, "-o", "beginning", "-e", "-f", format],
        b"",
    ));
    assert_eq!(consumed.len(), total);
    for (i, line) in consumed.iter().enumerate() {
        let (k, v) = message(i);
        assert_eq!(
            line,
            &format!("{i}\t{k}\t{v}\tsource=e2e,run=kcat"),
            "message {i}"
        );
    }

    // From an offset in the middle.
    let from_offset = lines(&kcat(
        &broker,
        &["-C", "-t", topic, "-o", "7777", "-e", "-f", "%o\n"],
        b"",
    ));
    let expected: Vec<String> = (7777..total).map(|o| o.to_string()).collect();
    assert_eq!(from_offset, expected);

    // From a timestamp: exactly the second half.
    let from_time = lines(&kcat(
        &broker,
        &[
            "-C",
            "-t",
            topic,
            "-o",
            &format!("s@{split_ms}"),
            "-e",
            "-f",
            "%o\t%s\n",
        ],
        b"",
    ));
    assert_eq!(from_time.len(), total - half);
    assert_eq!(from_time[0], format!("{half}\t{}", message(half).1));
}

#[test]
fn confluent_kafka_idempotent_producer_with_every_codec_on_two_shards() {
    let broker = Broker::start(BrokerOptions {
        shards: 2,
        ..Default::default()
    });
    let out = python(
        "confluent_idempotent.py",
        &[&broker.bootstrap(), "codecs", "1500"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok: 6000 messages"), "{stdout}");
}

#[test]
fn kafka_python_produce_consume_and_admin() {
    let broker = Broker::start(BrokerOptions::default());
    let out = python(
        "kafka_python_flow.py",
        &[&broker.bootstrap(), "kafka-python-e2e", "600"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok: 600 messages"), "{stdout}");
    // The deleted topic stays deleted across a restart.
    let mut broker = broker;
    broker.stop();
    broker.restart();
    let metadata = String::from_utf8(kcat(&broker, &["-L"], b"").stdout).unwrap();
    assert!(!metadata.contains("kafka-python-e2e"), "{metadata}");
}

#[test]
fn restart_keeps_data_and_offsets() {
    let mut broker = Broker::start(BrokerOptions::default());
    let input: String = (0..500).map(|i| format!("before-{i}\n")).collect();
    kcat(
        &broker,
        &["-P", "-t", "durable", "-X", "acks=all"],
        input.as_bytes(),
    );
    broker.stop();
    assert!(
        broker.log().contains("broker stopped cleanly"),
        "{}",
        broker.log()
    );
    broker.restart();
    assert!(
        broker.log().contains("storage recovered"),
        "{}",
        broker.log()
    );

    let more: String = (0..100).map(|i| format!("after-{i}\n")).collect();
    kcat(
        &broker,
        &["-P", "-t", "durable", "-X", "acks=all"],
        more.as_bytes(),
    );
    let consumed = lines(&kcat(
        &broker,
        &[
            "-C",
            "-t",
            "durable",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%o %s\n",
        ],
        b"",
    ));
    let expected: Vec<String> = (0..500)
        .map(|i| format!("{i} before-{i}"))
        .chain((0..100).map(|i| format!("{} after-{i}", 500 + i)))
        .collect();
    assert_eq!(consumed, expected);
}

#[test]
fn producer_ids_are_never_handed_out_twice_across_restarts() {
    let mut broker = Broker::start(BrokerOptions::default());
    let mut seen = Vec::new();
    for restart in 0..4 {
        let mut connection = raw::Connection::open(broker.addr);
        for _ in 0..3 {
            seen.push(connection.init_producer_id());
        }
        drop(connection);
        if restart % 2 == 0 {
            broker.kill9();
        } else {
            broker.stop();
        }
        broker.restart();
    }
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        seen.len(),
        "an id handed out twice: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "ids go back: {seen:?}"
    );
}

#[test]
fn every_acknowledged_message_survives_kill_9_exactly_once() {
    let mut broker = Broker::start(BrokerOptions::default());
    let topic = "crash";
    // Create the topic first so the producer's first batches are not
    // refused while it is auto-created.
    kcat(&broker, &["-P", "-t", topic, "-X", "acks=all"], b"seed\n");
    let mut producer = Streaming::spawn(
        Command::new("python3")
            .arg(tests::workspace_dir().join("tests/python/produce_acked.py"))
            .arg(broker.bootstrap())
            .arg(topic)
            .env("PYTHONUNBUFFERED", "1"),
    );
    let mut acked = Vec::new();
    producer.collect(&mut acked, 3000, Duration::from_secs(60));
    assert!(
        acked.len() >= 3000,
        "only {} acks before the deadline",
        acked.len()
    );
    broker.kill9();
    // Whatever the producer printed before the kill was acknowledged.
    producer.collect(&mut acked, usize::MAX, Duration::from_millis(300));
    producer.kill();

    broker.restart();
    let consumed = consume_all(&broker, topic);
    let mut by_offset = BTreeMap::new();
    let mut values = HashSet::new();
    for line in &consumed {
        let (offset, value) = line.split_once(' ').unwrap();
        by_offset.insert(offset.parse::<i64>().unwrap(), value.to_string());
        assert!(values.insert(value.to_string()), "{value} stored twice");
    }
    let offsets: Vec<i64> = by_offset.keys().copied().collect();
    assert_eq!(
        offsets,
        (0..consumed.len() as i64).collect::<Vec<_>>(),
        "offsets not contiguous"
    );
    for line in &acked {
        let mut parts = line.splitn(3, ' ');
        let (_partition, offset, value) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let offset: i64 = offset.parse().unwrap();
        assert_eq!(
            by_offset.get(&offset).map(String::as_str),
            Some(value),
            "acked {value} at {offset} lost"
        );
    }
}

/// Sends `frame` on a fresh connection; returns true if the broker closed
/// the connection (or answered) within the timeout rather than hanging.
fn send_hostile(broker: &Broker, frame: &[u8]) -> bool {
    let mut stream = TcpStream::connect(broker.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(frame);
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return Instant::now() < deadline,
        }
    }
}

#[test]
fn hostile_frames_close_only_their_connection() {
    let broker = Broker::start(BrokerOptions::default());
    let topic = "hostile";
    let first: String = (0..100).map(|i| format!("a{i}\n")).collect();
    kcat(
        &broker,
        &["-P", "-t", topic, "-X", "acks=all"],
        first.as_bytes(),
    );
    let mut consumer = Streaming::spawn(Command::new("kcat").args([
        "-b",
        &broker.bootstrap(),
        "-u",
        "-C",
        "-t",
        topic,
        "-o",
        "beginning",
        "-f",
        "%s\n",
    ]));
    let mut seen = Vec::new();
    consumer.collect(&mut seen, 100, Duration::from_secs(30));
    assert_eq!(seen.len(), 100);

    // Produce v3 claiming i32::MAX topics in a 12-byte body after the header.
    let mut body = Vec::new();
    body.extend_from_slice(&0i16.to_be_bytes()); // api key: Produce
    body.extend_from_slice(&3i16.to_be_bytes()); // version
    body.extend_from_slice(&7i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(-1i16).to_be_bytes()); // client id: null
    body.extend_from_slice(&(-1i16).to_be_bytes()); // transactional id: null
    body.extend_from_slice(&1i16.to_be_bytes()); // acks
    body.extend_from_slice(&1000i32.to_be_bytes()); // timeout
    body.extend_from_slice(&i32::MAX.to_be_bytes()); // topic count
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    assert!(
        send_hostile(&broker, &frame),
        "i32::MAX topics: connection left hanging"
    );

    // Random garbage, with and without a plausible size prefix.
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut garbage = vec![0u8; 4096];
    for b in garbage.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *b = state as u8;
    }
    assert!(
        send_hostile(&broker, &garbage),
        "garbage: connection left hanging"
    );
    let mut sized = 4092i32.to_be_bytes().to_vec();
    sized.extend_from_slice(&garbage[..4092]);
    assert!(
        send_hostile(&broker, &sized),
        "sized garbage: connection left hanging"
    );
    // A 2 GiB length prefix (negative as i32) and a merely huge one.
    assert!(
        send_hostile(&broker, &0x8000_0000u32.to_be_bytes()),
        "2 GiB prefix"
    );
    assert!(
        send_hostile(&broker, &0x7fff_ffffu32.to_be_bytes()),
        "i32::MAX prefix"
    );

    // The concurrent consumer keeps being served.
    let second: String = (0..100).map(|i| format!("b{i}\n")).collect();
    kcat(
        &broker,
        &["-P", "-t", topic, "-X", "acks=all"],
        second.as_bytes(),
    );
    consumer.collect(&mut seen, 200, Duration::from_secs(30));
    let expected: Vec<String> = (0..100)
        .map(|i| format!("a{i}"))
        .chain((0..100).map(|i| format!("b{i}")))
        .collect();
    assert_eq!(seen, expected);
    consumer.kill();
    let log = broker.log();
    assert!(
        log.contains("closing connection"),
        "hostile input was not logged:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// Kafka error codes the raw tests expect.
const NONE: i16 = 0;
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const UNSUPPORTED_VERSION: i16 = 35;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const KAFKA_STORAGE_ERROR: i16 = 56;

#[test]
fn idempotent_retries_get_their_original_offset_even_after_restart() {
    let mut broker = Broker::start(BrokerOptions::default());
    let mut conn = raw::Connection::open(broker.addr);
    let topic = "idempotent";
    let pid = 4242;
    let first = raw::record_batch(pid, 0, 0, &[b"a", b"b", b"c"]);
    let second = raw::record_batch(pid, 0, 3, &[b"d"]);
    let (error, _) = conn.produce(topic, &raw::record_batch(-1, -1, -1, &[b"plain"]));
    assert_eq!(error, NONE, "auto-create and plain append");
    assert_eq!(conn.produce(topic, &first), (NONE, 1));
    assert_eq!(conn.produce(topic, &second), (NONE, 4));
    // A retry of either batch is acknowledged with its original offset.
    assert_eq!(conn.produce(topic, &first), (NONE, 1));
    assert_eq!(conn.produce(topic, &second), (NONE, 4));
    // A gap in the sequence is refused.
    let gap = raw::record_batch(pid, 0, 9, &[b"z"]);
    assert_eq!(conn.produce(topic, &gap).0, OUT_OF_ORDER_SEQUENCE_NUMBER);

    // The producer state is rebuilt from the log after a restart.
    drop(conn);
    broker.stop();
    broker.restart();
    let mut conn = raw::Connection::open(broker.addr);
    assert_eq!(conn.produce(topic, &second), (NONE, 4));
    assert_eq!(conn.produce(topic, &gap).0, OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(
        conn.produce(topic, &raw::record_batch(pid, 0, 4, &[b"e"])),
        (NONE, 5)
    );
    let consumed = consume_all(&broker, topic);
    assert_eq!(consumed, ["0 plain", "1 a", "2 b", "3 c", "4 d", "5 e"]);
}

#[test]
fn bad_batches_and_versions_get_the_right_errors() {
    let broker = Broker::start(BrokerOptions {
        config_toml: "[server]\nbatch_bytes_max = 2048\n".into(),
        ..Default::default()
    });
    let mut conn = raw::Connection::open(broker.addr);
    let topic = "errors";
    let good = raw::record_batch(-1, -1, -1, &[b"fine"]);
    assert_eq!(conn.produce(topic, &good), (NONE, 0));

    let mut corrupt = good.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(conn.produce(topic, &corrupt).0, CORRUPT_MESSAGE);
    let big = vec![b'x'; 4096];
    assert_eq!(
        conn.produce(topic, &raw::record_batch(-1, -1, -1, &[&big]))
            .0,
        MESSAGE_TOO_LARGE
    );
    let truncated = &good[..good.len() - 3];
    assert_eq!(conn.produce(topic, truncated).0, CORRUPT_MESSAGE);

    // ApiVersions of a version from the future: v0 answer with the error
    // and the supported list (KIP-511), on the same connection.
    let response = conn.request(18, 127, &[]);
    assert_eq!(
        i16::from_be_bytes([response[0], response[1]]),
        UNSUPPORTED_VERSION
    );
    let api_count = i32::from_be_bytes(response[2..6].try_into().unwrap());
    assert!(api_count >= 10, "{api_count} APIs listed");
    // The connection still works, and nothing bad was stored.
    assert_eq!(conn.produce(topic, &good), (NONE, 1));
    let consumed = consume_all(&broker, topic);
    assert_eq!(consumed, ["0 fine", "1 fine"]);
}

#[test]
fn invalid_config_fails_at_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("[log]\nsegment_bytes = 12\n", "log.segment_bytes"),
        ("[shards]\nio_memory_bytes = 1\n", "shards.io_memory_bytes"),
        ("[topics]\nauto_create = \"yes\"\n", "auto_create"),
        ("no_such_key = 1\n", "no_such_key"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let output = Command::new(tests::binary("sluice"))
            .arg("--config")
            .arg(&path)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text:?}: {stderr}");
        assert!(
            stderr.contains(key),
            "{text:?}: {stderr:?} does not name {key}"
        );
    }
}

#[test]
fn admin_validation_and_configs_survive_restart() {
    let mut broker = Broker::start(BrokerOptions::default());
    let out = python("admin_checks.py", &[&broker.bootstrap(), "create"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: admin create"));
    // The topic's max.message.bytes is enforced.
    let mut conn = raw::Connection::open(broker.addr);
    let big = vec![b'x'; 3000];
    let too_big = raw::record_batch(-1, -1, -1, &[&big]);
    assert_eq!(conn.produce("small-batches", &too_big).0, MESSAGE_TOO_LARGE);
    assert_eq!(
        conn.produce("small-batches", &raw::record_batch(-1, -1, -1, &[b"ok"])),
        (NONE, 0)
    );
    drop(conn);
    broker.stop();
    broker.restart();
    let out = python("admin_checks.py", &[&broker.bootstrap(), "check"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: admin check"));
}

#[test]
fn fetch_long_polls_until_min_bytes_or_max_wait() {
    let broker = Broker::start(BrokerOptions::default());
    let topic = "long-poll";
    let mut producer = raw::Connection::open(broker.addr);
    assert_eq!(
        producer.produce(topic, &raw::record_batch(-1, -1, -1, &[b"first"])),
        (NONE, 0)
    );
    let mut consumer = raw::Connection::open(broker.addr);

    // Data already there: answered at once despite a long max wait.
    let started = Instant::now();
    let (error, hwm, records) = consumer.fetch(topic, 0, 10_000, 1);
    assert_eq!((error, hwm), (NONE, 1));
    assert!(!records.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Nothing new: the broker waits max wait, then answers empty.
    let started = Instant::now();
    let (error, hwm, records) = consumer.fetch(topic, 1, 600, 1);
    let waited = started.elapsed();
    assert_eq!((error, hwm, records.len()), (NONE, 1, 0));
    assert!(
        waited >= Duration::from_millis(550),
        "answered after {waited:?}"
    );

    // New data during the wait ends it early.
    let addr = broker.addr;
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut producer = raw::Connection::open(addr);
        producer.produce("long-poll", &raw::record_batch(-1, -1, -1, &[b"second"]))
    });
    let started = Instant::now();
    let (error, hwm, records) = consumer.fetch(topic, 1, 20_000, 1);
    let waited = started.elapsed();
    assert_eq!(writer.join().unwrap(), (NONE, 1));
    assert_eq!((error, hwm), (NONE, 2));
    assert!(!records.is_empty());
    assert!(
        waited < Duration::from_secs(10),
        "long poll did not end on new data: {waited:?}"
    );

    // Fetching past the end is OFFSET_OUT_OF_RANGE; an unknown topic is
    // UNKNOWN_TOPIC_OR_PARTITION (fetch never auto-creates).
    assert_eq!(consumer.fetch(topic, 99, 0, 1).0, 1);
    assert_eq!(consumer.fetch("never-created", 0, 0, 1).0, 3);
}

#[test]
fn connections_over_the_limit_are_refused_and_others_keep_working() {
    let broker = Broker::start(BrokerOptions {
        shards: 1,
        config_toml: "[server]\nconnections_per_shard_max = 1\n".into(),
        ..Default::default()
    });
    // The one allowed connection (retried: the harness's readiness probe
    // may still hold the slot for a moment).
    let held = serve_within(&broker, Duration::from_secs(20)).expect("no connection was served");
    // While it is open, a second connection is accepted by the kernel and
    // closed by the broker without an answer.
    assert!(
        api_versions(&broker).is_none(),
        "a connection over the limit was served"
    );
    assert!(
        broker.log().contains("connection limit reached"),
        "{}",
        broker.log()
    );
    // Closing the first makes room again.
    drop(held);
    assert!(
        serve_within(&broker, Duration::from_secs(20)).is_some(),
        "no room after closing"
    );
}

/// The API keys an ApiVersions v0 answer advertises.
fn advertised_api_keys(broker: &Broker) -> Vec<i16> {
    let mut stream = TcpStream::connect(broker.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    stream.write_all(&request).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).unwrap();
    // correlation id, error code, array length, then (key, min, max) each.
    assert_eq!(
        i16::from_be_bytes([body[4], body[5]]),
        0,
        "ApiVersions error"
    );
    let count = i32::from_be_bytes(body[6..10].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| i16::from_be_bytes([body[10 + 6 * i], body[11 + 6 * i]]))
        .collect()
}

#[test]
fn an_api_the_broker_does_not_serve_is_not_advertised_and_closes_only_its_connection() {
    let broker = Broker::start(BrokerOptions::default());
    let advertised = advertised_api_keys(&broker);
    for served in [
        0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 32, 42,
    ] {
        assert!(
            advertised.contains(&served),
            "{served} missing from {advertised:?}"
        );
    }
    // DescribeAcls (29) v1: decodable, not served by this broker yet.
    assert!(!advertised.contains(&29), "{advertised:?}");
    let describe_acls = [
        0, 0, 0, 20, // size
        0, 29, 0, 1, 0, 0, 0, 7, 0xff, 0xff, // header: key, version, correlation, null client
        1, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff, 1, 1, // filters: any
    ];
    assert!(
        send_hostile(&broker, &describe_acls),
        "the connection stayed open"
    );
    assert!(
        api_versions(&broker).is_some(),
        "the broker stopped serving"
    );
    assert!(broker.log().contains("does not serve"), "{}", broker.log());
}

/// An ApiVersions v0 round trip on a new connection: the connection if the
/// broker answered, `None` if it closed the connection instead.
fn api_versions(broker: &Broker) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(broker.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // size, api key 18, version 0, correlation id 1, null client id
    let request = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    stream.write_all(&request).ok()?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).ok()?;
    (body[..4] == [0, 0, 0, 1]).then_some(stream)
}

fn serve_within(broker: &Broker, timeout: Duration) -> Option<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(stream) = api_versions(broker) {
            return Some(stream);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn shutdown_answers_in_flight_long_polls_and_exits_promptly() {
    let mut broker = Broker::start(BrokerOptions::default());
    let mut producer = raw::Connection::open(broker.addr);
    assert_eq!(
        producer.produce("idle", &raw::record_batch(-1, -1, -1, &[b"x"])),
        (NONE, 0)
    );
    let addr = broker.addr;
    let poller = std::thread::spawn(move || {
        let mut consumer = raw::Connection::open(addr);
        consumer.fetch("idle", 1, 25_000, 1)
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    broker.stop();
    // Well under the 10 s drain deadline that a hanging long poll would cost.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "shutdown took {:?}",
        started.elapsed()
    );
    // The long poll got its (empty) answer rather than a dropped connection.
    assert_eq!(poller.join().unwrap(), (NONE, 1, Vec::new()));
}

/// A small ext4 file system on a loop device, mounted for one test and
/// unmounted when dropped (the tests run as root, as `.ci/run` does).
struct SmallDisk {
    _image_dir: tempfile::TempDir,
    mount_point: std::path::PathBuf,
}

impl SmallDisk {
    fn new(size_mib: u64) -> SmallDisk {
        let image_dir = tempfile::tempdir().unwrap();
        let image = image_dir.path().join("disk.img");
        let mount_point = image_dir.path().join("mnt");
        std::fs::create_dir(&mount_point).unwrap();
        std::fs::File::create(&image)
            .unwrap()
            .set_len(size_mib << 20)
            .unwrap();
        let ok = |c: &mut Command| {
            let out = c.output().expect("run");
            assert!(
                out.status.success(),
                "{c:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image));
        ok(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mount_point));
        SmallDisk {
            _image_dir: image_dir,
            mount_point,
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}

/// Fills the data directory's file system: appends fail with
/// KAFKA_STORAGE_ERROR, reads and other clients keep working, appends work
/// again once space is freed, and after a restart the log holds exactly the
/// acknowledged batches, in order.
#[test]
fn a_full_disk_is_a_storage_error_and_appends_resume_when_space_returns() {
    let disk = SmallDisk::new(96);
    // Room to free later, written before the broker fills the rest.
    let ballast = disk.mount_point.join("ballast");
    std::fs::write(&ballast, vec![0xa5u8; 24 << 20]).unwrap();
    let mut broker = Broker::start(BrokerOptions {
        shards: 1,
        data_dir_parent: Some(disk.mount_point.clone()),
        ..Default::default()
    });
    let topic = "full";
    let mut conn = raw::Connection::open(broker.addr);
    let value = vec![b'v'; 4096];
    let batch = |i: usize| {
        let tag = format!("batch {i:05}");
        let values: Vec<&[u8]> = std::iter::once(tag.as_bytes())
            .chain(std::iter::repeat_n(&value[..], 63))
            .collect();
        raw::record_batch(-1, -1, -1, &values)
    };

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for i in 0..1000 {
        let (error, base_offset) = conn.produce(topic, &batch(i));
        match error {
            NONE => {
                assert_eq!(base_offset, 64 * acknowledged.len() as i64);
                acknowledged.push(i);
            }
            KAFKA_STORAGE_ERROR => {
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            other => panic!("produce {i}: error {other}\n{}", broker.log()),
        }
    }
    assert_eq!(refused, 3, "the disk never filled up");
    assert!(
        acknowledged.len() > 50,
        "{} acknowledged",
        acknowledged.len()
    );
    assert!(broker.log().contains("disk full"), "{}", broker.log());
    assert!(
        !broker.log().contains("appends resumed"),
        "{}",
        broker.log()
    );

    // Still serving: reads of what was acknowledged, and a new connection.
    let (error, high_watermark, records) = conn.fetch(topic, 0, 0, 1);
    assert_eq!(error, NONE);
    assert_eq!(high_watermark, 64 * acknowledged.len() as i64);
    assert!(!records.is_empty());
    let mut other = raw::Connection::open(broker.addr);
    assert_eq!(other.fetch(topic, 0, 0, 1).0, NONE);

    // Space returns: appends work again, after the acknowledged ones.
    std::fs::remove_file(&ballast).unwrap();
    let next = acknowledged.len() + refused;
    let (error, base_offset) = conn.produce(topic, &batch(next));
    assert_eq!(error, NONE, "{}", broker.log());
    assert_eq!(base_offset, 64 * acknowledged.len() as i64);
    acknowledged.push(next);
    assert!(broker.log().contains("appends resumed"), "{}", broker.log());

    // After a restart the log holds the acknowledged batches, each once.
    drop((conn, other));
    broker.stop();
    broker.restart();
    let consumed = consume_all(&broker, topic);
    let tags: Vec<String> = consumed
        .iter()
        .filter(|l| l.contains("batch "))
        .cloned()
        .collect();
    let expected: Vec<String> = acknowledged
        .iter()
        .enumerate()
        .map(|(n, i)| format!("{} batch {i:05}", 64 * n))
        .collect();
    assert_eq!(tags, expected);
    assert_eq!(consumed.len(), 64 * acknowledged.len());
    drop(broker);
    drop(disk);
}

/// A log destination that fails every write (its disk is full) does not
/// stop the broker: it starts, serves and stops cleanly without a log.
#[test]
fn an_unwritable_log_does_not_stop_the_broker() {
    let mut broker = Broker::start(BrokerOptions {
        shards: 1,
        output: Some("/dev/full".into()),
        ..Default::default()
    });
    let metadata = lines(&kcat(&broker, &["-L"], b""));
    assert!(
        metadata.iter().any(|l| l.contains("1 brokers")),
        "{metadata:?}"
    );
    let mut conn = raw::Connection::open(broker.addr);
    let batch = raw::record_batch(-1, -1, -1, &[b"still here"]);
    assert_eq!(conn.produce("quiet", &batch), (NONE, 0));
    drop(conn);
    broker.stop();
}
