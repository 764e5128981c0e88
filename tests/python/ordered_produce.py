"""Produces COUNT messages of SIZE bytes to partition 0 of each TOPIC with a
non-idempotent librdkafka producer that pipelines many requests per
connection (the default for non-idempotent producers), keyed by their send
number. Every message must be delivered without error; the caller then
reads the partitions back and checks that the keys are in send order.
Usage: ordered_produce.py BOOTSTRAP ACKS SIZE COUNT TOPIC..."""

import sys

from confluent_kafka import Producer

bootstrap, acks, size, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
topics = sys.argv[5:]
producer = Producer({
    "bootstrap.servers": bootstrap,
    "enable.idempotence": False,
    "acks": acks,
    "linger.ms": 1,
    # Many small requests in flight on the one connection is what exposed
    # reordering: keep batches small and never retry (a retry may reorder
    # legitimately in Kafka's contract for non-idempotent producers).
    "batch.size": 4 * size,
    "max.in.flight.requests.per.connection": 1000,
    "retries": 0,
    "message.timeout.ms": 120000,
    "queue.buffering.max.kbytes": 256 * 1024,
})

errors = []


def on_delivery(err, msg):
    if err is not None:
        errors.append(f"{msg.topic()} {msg.key()}: {err}")


padding = b"x" * size
for i in range(count):
    key = str(i).encode()
    for topic in topics:
        while True:
            try:
                producer.produce(topic, key=key, value=padding, partition=0, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
    producer.poll(0)
left = producer.flush(120)
if left or errors:
    print(f"undelivered: {left}, errors: {errors[:10]}", file=sys.stderr)
    sys.exit(1)
print(f"delivered {count} x {len(topics)}")
