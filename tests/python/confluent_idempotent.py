"""confluent-kafka: an idempotent producer per compression codec on a
6-partition topic; then everything is consumed back and checked: every
delivered message exactly once, at its delivered offset, in per-partition
order. Usage: confluent_idempotent.py BOOTSTRAP TOPIC MESSAGES_PER_CODEC"""

import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, per_codec = sys.argv[1], sys.argv[2], int(sys.argv[3])
PARTITIONS = 6
CODECS = ["gzip", "snappy", "lz4", "zstd"]

admin = AdminClient({"bootstrap.servers": bootstrap})
for name, future in admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)]).items():
    future.result(timeout=30)
metadata = admin.list_topics(topic, timeout=30)
assert len(metadata.topics[topic].partitions) == PARTITIONS, metadata.topics[topic].partitions

delivered = {}  # (partition, offset) -> value
errors = []


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        key = (msg.partition(), msg.offset())
        assert key not in delivered, f"offset delivered twice: {key}"
        delivered[key] = msg.value()


for codec in CODECS:
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": codec,
        "linger.ms": 5,
    })
    for i in range(per_codec):
        key = f"{codec}-key-{i % 24}".encode()
        # Compressible but not trivial: the codec must round-trip real bytes.
        value = f"{codec}:{i}:".encode() + bytes((i * 7 + j) % 256 for j in range(64))
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(60)
    assert left == 0, f"{left} messages not delivered for {codec}"

assert not errors, errors[:5]
expected_total = per_codec * len(CODECS)
assert len(delivered) == expected_total, (len(delivered), expected_total)

consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "e2e-confluent-checker",
    "enable.auto.commit": False,
    "enable.partition.eof": False,
})
consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
consumed = {}
order = {p: [] for p in range(PARTITIONS)}
idle = 0
while len(consumed) < expected_total and idle < 100:
    msgs = consumer.consume(1000, timeout=0.2)
    if not msgs:
        idle += 1
        continue
    idle = 0
    for msg in msgs:
        assert msg.error() is None, msg.error()
        key = (msg.partition(), msg.offset())
        assert key not in consumed, f"consumed twice: {key}"
        consumed[key] = msg.value()
        order[msg.partition()].append(msg.offset())
consumer.close()

assert len(consumed) == expected_total, (len(consumed), expected_total)
assert consumed == delivered, "consumed messages differ from the delivered ones"
for p, offsets in order.items():
    assert offsets == sorted(offsets), f"partition {p} out of order"
    assert offsets == list(range(len(offsets))), f"partition {p} offsets not contiguous"
# Per key, a producer's messages keep their send order.
last_seen = {}
for (p, offset) in sorted(consumed):
    codec, i, _ = consumed[(p, offset)].split(b":", 2)
    k = (codec, int(i) % 24)
    assert last_seen.get(k, -1) < int(i), f"key {k} out of order"
    last_seen[k] = int(i)
used = sorted({p for (p, _) in consumed})
assert used == list(range(PARTITIONS)), f"only partitions {used} got data"
print(f"ok: {expected_total} messages over {PARTITIONS} partitions with {CODECS}")
