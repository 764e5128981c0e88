//! Per-partition order under pipelining: a non-idempotent librdkafka
//! producer (confluent-kafka) with many requests in flight on one
//! connection, large messages, every acks setting, on a 2-shard broker; the
//! partitions, read back from disk after a restart, must hold the messages
//! in exactly the order they were sent.

use tests::{kcat, python, Broker, BrokerOptions};

/// The broker's `shard_for(topic, 0)` on a 2-shard broker: the topic's
/// CRC32C (Castagnoli) modulo the shard count. The test needs one topic on
/// each shard, so that one of them is on the connection's own shard and the
/// other is reached across shards, whichever shard accepts the connection.
fn topic_on_shard(prefix: &str, shard: u32) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|name| crc32c::crc32c(name.as_bytes()) % 2 == shard)
        .expect("some name lands on the shard")
}

/// The keys of partition 0 of `topic`, in log order.
fn keys(broker: &Broker, topic: &str) -> Vec<usize> {
    let out = kcat(
        broker,
        &[
            "-C",
            "-t",
            topic,
            "-p",
            "0",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%k\n",
        ],
        b"",
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 keys")
        .lines()
        .map(|k| k.parse().expect("numeric key"))
        .collect()
}

#[test]
fn pipelined_non_idempotent_produce_keeps_send_order_on_both_shards() {
    let mut broker = Broker::start(BrokerOptions::default());
    // (acks, message bytes, messages): 10 KB and 100 KB messages reordered
    // before the fix, 100 KB ones in most runs.
    let cases = [
        ("0", 10_240, 1500),
        ("0", 102_400, 300),
        ("1", 10_240, 1500),
        ("1", 102_400, 300),
        ("all", 10_240, 1500),
        ("all", 102_400, 300),
    ];
    // It is a race: each case runs twice, on fresh topics.
    let mut checks = Vec::new();
    for round in 0..2 {
        for (acks, size, count) in cases {
            let prefix = format!("order-r{round}-acks{acks}-{size}");
            let topics = [topic_on_shard(&prefix, 0), topic_on_shard(&prefix, 1)];
            let args = [
                broker.bootstrap(),
                acks.to_string(),
                size.to_string(),
                count.to_string(),
                topics[0].clone(),
                topics[1].clone(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            python("ordered_produce.py", &args);
            for topic in topics {
                checks.push((topic, count));
            }
        }
    }
    // Read back from disk, not from the batch cache.
    broker.stop();
    broker.restart();
    for (topic, count) in checks {
        let keys = keys(&broker, &topic);
        let expected: Vec<usize> = (0..count).collect();
        if keys != expected {
            let first_break = keys
                .windows(2)
                .position(|w| w[1] != w[0] + 1)
                .map(|i| &keys[i..(i + 4).min(keys.len())]);
            panic!(
                "{topic}: {} messages, not in send order; first break: {first_break:?}",
                keys.len()
            );
        }
    }
}
