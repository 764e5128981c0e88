"""confluent-kafka AdminClient helpers for the cluster tests.

Usage:
  cluster_admin.py metadata BOOTSTRAP
      prints the cluster metadata as JSON: controller id, brokers, and per
      topic the partitions' leader, replicas and in-sync replicas.
  cluster_admin.py create BOOTSTRAP TOPIC PARTITIONS [RETRY_SECONDS]
      creates the topic, retrying retriable errors (no controller yet) for up
      to RETRY_SECONDS; prints the seconds it took.
  cluster_admin.py delete BOOTSTRAP TOPIC
  cluster_admin.py grow BOOTSTRAP TOPIC COUNT
      adds partitions up to COUNT (CreatePartitions).
"""

import json
import sys
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

mode, bootstrap = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000})

if mode == "metadata":
    md = admin.list_topics(timeout=30)
    print(json.dumps({
        "controller_id": md.controller_id,
        "brokers": sorted([b.id, b.host, b.port] for b in md.brokers.values()),
        "topics": {
            name: sorted(
                [p.id, p.leader, sorted(p.replicas), sorted(p.isrs)]
                for p in t.partitions.values()
            )
            for name, t in md.topics.items()
            if t.error is None
        },
    }, sort_keys=True))
elif mode == "create":
    topic, partitions = sys.argv[3], int(sys.argv[4])
    retry_s = float(sys.argv[5]) if len(sys.argv) > 5 else 0
    started = time.monotonic()
    while True:
        try:
            admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=10)[topic].result(timeout=15)
            break
        except KafkaException as e:
            error = e.args[0]
            if not error.retriable() and error.name() not in ("NOT_CONTROLLER", "REQUEST_TIMED_OUT", "_TIMED_OUT", "_TRANSPORT"):
                raise
            if time.monotonic() - started > retry_s:
                raise
            time.sleep(0.05)
    print(f"{time.monotonic() - started:.3f}")
elif mode == "delete":
    topic = sys.argv[3]
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
elif mode == "grow":
    topic, count = sys.argv[3], int(sys.argv[4])
    admin.create_partitions([NewPartitions(topic, count)], operation_timeout=30)[topic].result(timeout=30)
else:
    sys.exit(f"unknown mode {mode}")
