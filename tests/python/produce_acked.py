"""Produces forever with acks=all (idempotent) and prints
"PARTITION OFFSET VALUE" for every acknowledged message, as it is
acknowledged. The crash test kills the broker under it.
Usage: produce_acked.py BOOTSTRAP TOPIC"""

import sys

from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
producer = Producer({
    "bootstrap.servers": bootstrap,
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 2,
    "message.timeout.ms": 600000,
})


def on_delivery(err, msg):
    if err is None:
        sys.stdout.write(f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n")
        sys.stdout.flush()


i = 0
while True:
    try:
        producer.produce(topic, value=f"msg-{i}".encode(), on_delivery=on_delivery)
        i += 1
    except BufferError:
        producer.poll(0.05)
    producer.poll(0)
    if i % 100 == 0:
        producer.poll(0.001)
