"""kafka-python 3.x: admin create topic, produce (idempotent by default),
consume back, admin delete topic. Usage: kafka_python_flow.py BOOTSTRAP TOPIC COUNT"""

import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
PARTITIONS = 3

admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
admin.create_topics([NewTopic(name=topic, num_partitions=PARTITIONS, replication_factor=1)])
assert topic in admin.list_topics(), admin.list_topics()

producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
futures = [producer.send(topic, key=f"k{i % 10}".encode(), value=f"value-{i}".encode()) for i in range(count)]
producer.flush(60)
sent = {}
for i, f in enumerate(futures):
    md = f.get(timeout=30)
    sent[(md.partition, md.offset)] = f"value-{i}".encode()
producer.close()
assert len(sent) == count

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
consumer.assign(partitions)
consumer.seek_to_beginning(*partitions)
got = {}
deadline = time.time() + 60
while len(got) < count and time.time() < deadline:
    for tp, records in consumer.poll(timeout_ms=500).items():
        for r in records:
            assert (tp.partition, r.offset) not in got
            got[(tp.partition, r.offset)] = r.value
consumer.close()
assert got == sent, f"consumed {len(got)} of {len(sent)}"

admin.delete_topics([topic])
deadline = time.time() + 30
while topic in admin.list_topics() and time.time() < deadline:
    time.sleep(0.1)
assert topic not in admin.list_topics(), "topic still listed after delete"
admin.close()
print(f"ok: {count} messages; topic created and deleted")
