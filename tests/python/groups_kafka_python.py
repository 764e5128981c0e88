"""kafka-python 3.x: a two-member group with the roundrobin assignor and
manual commits. Checks the roundrobin spread, that every message is consumed
by exactly one member, that committed offsets read back (OffsetFetch, per
partition and for the whole group), that the group is empty after both
members leave, that deleting the topic drops its committed offsets, and
that DeleteGroups removes the group. Usage: groups_kafka_python.py BOOTSTRAP TOPIC GROUP MESSAGES"""

import sys
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

bootstrap, topic, group, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PARTITIONS = 4

admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])


def member():
    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        partition_assignment_strategy=[RoundRobinPartitionAssignor],
        session_timeout_ms=3000,
        heartbeat_interval_ms=300,
    )


class Member(threading.Thread):
    """One member, polled by its own thread as applications do (a consumer
    is not thread-safe; one thread polling two consumers starves the
    heartbeats of whichever is blocked in a rebalance)."""

    def __init__(self, name, seen, lock):
        super().__init__(daemon=True)
        self.name_ = name
        self.consumer = member()
        self.seen = seen
        self.lock = lock
        self.commit_requested = threading.Event()
        self.committed = threading.Event()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for tp, records in self.consumer.poll(timeout_ms=100).items():
                with self.lock:
                    for r in records:
                        key = (r.partition, r.offset)
                        owner = self.seen.setdefault(key, self.name_)
                        assert owner == self.name_, f"{key} consumed by both members"
            if self.commit_requested.is_set() and not self.committed.is_set():
                self.consumer.commit()
                self.committed.set()


producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
# The members' first assignment must see the new topic's partitions (a leader
# that assigned without them rejoins by itself later, a path on which
# kafka-python 3.0.12 sometimes never re-enables its heartbeat).
deadline = time.time() + 30
while len(producer.partitions_for(topic) or ()) != PARTITIONS:
    assert time.time() < deadline, "no metadata for the new topic"
    time.sleep(0.05)

seen = {}  # (partition, offset) -> member name
lock = threading.Lock()
member_a = Member("a", seen, lock)
a = member_a.consumer
member_a.start()
deadline = time.time() + 60
while len(a.assignment()) != PARTITIONS:
    assert time.time() < deadline, a.assignment()
    time.sleep(0.05)
# The second member joins a stable group: the first hears of the rebalance
# through its heartbeat and rejoins. Both settle before anything is produced,
# so that each partition is read by the member the assignment gave it to.
member_b = Member("b", seen, lock)
b = member_b.consumer
member_b.start()
deadline = time.time() + 60
while len(a.assignment()) != 2 or len(b.assignment()) != 2:
    assert time.time() < deadline, (a.assignment(), b.assignment())
    time.sleep(0.05)

for i in range(total):
    producer.send(topic, value=f"m-{i}".encode(), partition=i % PARTITIONS)
producer.flush()
producer.close()

deadline = time.time() + 90
while True:
    with lock:
        if len(seen) >= total:
            break
    assert time.time() < deadline, f"consumed {len(seen)} of {total}"
    time.sleep(0.05)
for m in (member_a, member_b):
    m.commit_requested.set()
for m in (member_a, member_b):
    assert m.committed.wait(30), "commit did not finish"
    m.stop.set()
    m.join(10)

parts_a = sorted(tp.partition for tp in a.assignment())
parts_b = sorted(tp.partition for tp in b.assignment())
print(f"ASSIGNED a={parts_a} b={parts_b}", flush=True)
assert sorted(parts_a + parts_b) == list(range(PARTITIONS)), (parts_a, parts_b)
# Roundrobin over two members deals the partitions out alternately.
assert parts_a in ([0, 2], [1, 3]) and parts_b in ([0, 2], [1, 3]), (parts_a, parts_b)
# Each partition was read by its owner only.
for (partition, _), name in seen.items():
    assert partition in (parts_a if name == "a" else parts_b), (partition, name)

per_partition = total // PARTITIONS
for consumer in (a, b):
    for tp in consumer.assignment():
        committed = consumer.committed(tp)
        assert committed == per_partition, (tp, committed)
offsets = admin.list_group_offsets({group: None})[group]
fetched = {tp.partition: meta.offset for tp, meta in offsets.items()}
assert fetched == {p: per_partition for p in range(PARTITIONS)}, fetched
print(f"COMMITTED {fetched}", flush=True)

described = admin.describe_groups([group])[group]
assert described["group_state"] == "Stable", described
assert len(described["members"]) == 2, described
a.close()
b.close()
described = admin.describe_groups([group])[group]
assert described["group_state"] == "Empty", described
listed = {g["group_id"]: g["group_state"] for g in admin.list_groups()}
assert listed.get(group) == "Empty", listed
print(f"GROUP-STATE {described['group_state']}", flush=True)

# A deleted topic takes its committed offsets with it (the group stays).
admin.delete_topics([topic])
offsets = admin.list_group_offsets({group: None})[group]
assert not offsets, offsets
print("TOPIC-DELETED-OFFSETS-GONE", flush=True)

# A group that is gone takes its offsets with it.
admin.delete_groups([group])
listed = {g["group_id"] for g in admin.list_groups()}
assert group not in listed, listed
offsets = admin.list_group_offsets({group: None})[group]
assert not offsets, offsets
print("KAFKA-PYTHON-OK", flush=True)
