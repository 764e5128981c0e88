"""confluent-kafka consumer-group helpers for the e2e tests (tests/tests/e2e/groups.rs).

  produce BOOTSTRAP TOPIC PARTITIONS FIRST COUNT
      creates TOPIC if needed, then writes messages FIRST..FIRST+COUNT with
      message i going to partition i % PARTITIONS; prints "PRODUCED n".
  consume BOOTSTRAP TOPIC GROUP [key=value ...]
      a group member that runs until killed. Prints "ASSIGN p,p", "REVOKE p,p"
      on rebalances and "MSG partition offset value" for every message whose
      offset it has committed (synchronously), so that the lines of all
      members together say exactly what the group has consumed and committed.
      Extra key=value pairs go into the consumer config (e.g.
      group.instance.id=..., partition.assignment.strategy=...).
  offset-reset BOOTSTRAP TOPIC
      auto.offset.reset latest / error (none) / earliest after a committed
      offset past the end (OFFSET_OUT_OF_RANGE).
  cooperative BOOTSTRAP TOPIC GROUP
      two cooperative-sticky members in one process: checks that the second
      member's arrival moves only partitions it takes (incremental revoke),
      never stops the first member's retained partitions, and that the
      first member keeps consuming them during the rebalance.
"""

import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def ensure_topic(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    for future in futures.values():
        try:
            future.result(timeout=30)
        except KafkaException as e:
            if "already exists" not in str(e).lower() and "TOPIC_ALREADY_EXISTS" not in str(e):
                raise


def produce(bootstrap, topic, partitions, first, count):
    ensure_topic(bootstrap, topic, partitions)
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    for i in range(first, first + count):
        while True:
            try:
                producer.produce(topic, value=f"m-{i}".encode(), partition=i % partitions,
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0, "undelivered messages"
    assert not errors, errors
    print(f"PRODUCED {count}", flush=True)


def member_config(bootstrap, group, extra):
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 3000,
        "heartbeat.interval.ms": 300,
        "max.poll.interval.ms": 20000,
    }
    for pair in extra:
        key, value = pair.split("=", 1)
        config[key] = value
    return config


def names(partitions):
    return ",".join(str(p.partition) for p in sorted(partitions, key=lambda p: p.partition))


def consume(bootstrap, topic, group, extra):
    debug_dir = os.environ.get("GROUPS_DEBUG_DIR")
    if debug_dir:
        # librdkafka logs to fd 2; keep them per process for post-mortems.
        log = os.open(os.path.join(debug_dir, f"consumer-{os.getpid()}.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 2)
    consumer = Consumer(member_config(bootstrap, group, extra))
    consumer.subscribe(
        [topic],
        on_assign=lambda c, ps: print(f"ASSIGN {names(ps)}", flush=True),
        on_revoke=lambda c, ps: print(f"REVOKE {names(ps)}", flush=True),
    )
    while True:
        batch = consumer.consume(num_messages=200, timeout=0.2)
        messages = [m for m in batch if m.error() is None]
        if debug_dir and batch:
            os.write(2, f"PYDEBUG batch {len(batch)} ok {len(messages)} errors {[str(m.error()) for m in batch if m.error()]}\n".encode())
        if not messages:
            continue
        next_offsets = {}
        for m in messages:
            next_offsets[m.partition()] = m.offset() + 1
        try:
            results = consumer.commit(
                offsets=[TopicPartition(topic, p, o) for p, o in next_offsets.items()],
                asynchronous=False)
        except KafkaException as e:
            # Not committed (the group is rebalancing): these messages will be
            # delivered again to whoever owns the partition next.
            print(f"COMMIT-FAILED {e}", flush=True)
            continue
        committed = {r.partition for r in results if r.error is None}
        for m in messages:
            if m.partition() in committed:
                print(f"MSG {m.partition()} {m.offset()} {m.value().decode()}", flush=True)


def cooperative(bootstrap, topic, group):
    events = {"a": [], "b": []}
    owned = {"a": set(), "b": set()}

    def callbacks(name):
        def on_assign(consumer, partitions):
            events[name].append(("assign", {p.partition for p in partitions}))
            owned[name] |= {p.partition for p in partitions}

        def on_revoke(consumer, partitions):
            events[name].append(("revoke", {p.partition for p in partitions}))
            owned[name] -= {p.partition for p in partitions}
        return on_assign, on_revoke

    extra = ["partition.assignment.strategy=cooperative-sticky"]
    a = Consumer(member_config(bootstrap, group, extra))
    on_assign, on_revoke = callbacks("a")
    a.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    deadline = time.time() + 60
    while len(owned["a"]) < 6:
        assert time.time() < deadline, f"a never got all partitions: {events}"
        a.poll(0.1)
    print(f"A-ALONE {sorted(owned['a'])}", flush=True)

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    b = Consumer(member_config(bootstrap, group, extra))
    on_assign, on_revoke = callbacks("b")
    b.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    consumed_by_a_during = set()
    rebalance_started = None
    deadline = time.time() + 60
    i = 0
    while len(owned["b"]) < 3 or len(owned["a"]) != 3:
        assert time.time() < deadline, f"the cooperative rebalance did not finish: {events}"
        # Keep every partition busy so that "a keeps consuming" is observable.
        for p in range(6):
            producer.produce(topic, value=f"during-{i}".encode(), partition=p)
        i += 1
        producer.poll(0)
        m = a.poll(0.05)
        if m is not None and m.error() is None and b"during" in m.value():
            if any(kind == "revoke" for kind, _ in events["a"]):
                consumed_by_a_during.add(m.partition())
        b.poll(0.05)
        if rebalance_started is None and any(kind == "revoke" for kind, _ in events["a"]):
            rebalance_started = time.time()
    producer.flush(30)
    # Keep polling briefly: a must still be consuming its retained partitions.
    end = time.time() + 2
    while time.time() < end:
        for p in owned["a"]:
            producer.produce(topic, value=b"after", partition=p)
        producer.poll(0)
        m = a.poll(0.05)
        if m is not None and m.error() is None:
            consumed_by_a_during.add(m.partition())
        b.poll(0.05)

    revokes = [ps for kind, ps in events["a"] if kind == "revoke"]
    revoked = set().union(*revokes) if revokes else set()
    print(f"A-EVENTS {events['a']}", flush=True)
    print(f"B-EVENTS {events['b']}", flush=True)
    assert len(revoked) == 3, f"a should give up exactly 3 partitions: {events['a']}"
    assert revoked == owned["b"], f"b got what a gave up: {events}"
    assert not (revoked & owned["a"]), events
    # Incremental: a never had its retained partitions revoked.
    for ps in revokes:
        assert not (ps & owned["a"]), f"retained partitions were revoked: {events['a']}"
    assert owned["a"] & consumed_by_a_during, "a stopped consuming its retained partitions"
    print(f"COOPERATIVE-OK a={sorted(owned['a'])} b={sorted(owned['b'])}", flush=True)
    producer.flush(30)
    a.close()
    b.close()


def offset_reset(bootstrap, topic):
    """auto.offset.reset through the group: latest skips what exists, error
    (Kafka's "none") reports that no offset is committed, and a committed
    offset past the end is answered with OFFSET_OUT_OF_RANGE and reset."""
    produce(bootstrap, topic, 1, 0, 10)

    def drain(consumer, seconds):
        values, errors = [], []
        end = time.time() + seconds
        while time.time() < end:
            m = consumer.poll(0.1)
            if m is None:
                continue
            if m.error() is not None:
                errors.append(m.error())
            else:
                values.append(m.value().decode())
        return values, errors

    def assigned(consumer):
        deadline = time.time() + 30
        while not consumer.assignment():
            assert time.time() < deadline, "never assigned"
            consumer.poll(0.1)

    latest = Consumer(member_config(bootstrap, f"{topic}-latest", ["auto.offset.reset=latest"]))
    latest.subscribe([topic])
    assigned(latest)
    values, _ = drain(latest, 1.5)
    assert values == [], values
    produce(bootstrap, topic, 1, 10, 5)
    values, _ = drain(latest, 3)
    assert values == [f"m-{i}" for i in range(10, 15)], values
    latest.close()
    print("RESET-LATEST-OK", flush=True)

    none = Consumer(member_config(bootstrap, f"{topic}-none", ["auto.offset.reset=error"]))
    none.subscribe([topic])
    values, errors = drain(none, 5)
    assert values == [], values
    assert any(e.code() == KafkaError._AUTO_OFFSET_RESET for e in errors), errors
    none.close()
    print("RESET-NONE-OK", flush=True)

    group = f"{topic}-out-of-range"
    committer = Consumer(member_config(bootstrap, group, []))
    committer.commit(offsets=[TopicPartition(topic, 0, 1_000)], asynchronous=False)
    committer.close()
    reset = Consumer(member_config(bootstrap, group, ["auto.offset.reset=earliest"]))
    reset.subscribe([topic])
    values, _ = drain(reset, 5)
    assert values == [f"m-{i}" for i in range(15)], values
    reset.close()
    print("RESET-OUT-OF-RANGE-OK", flush=True)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "produce":
        produce(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif command == "consume":
        consume(args[0], args[1], args[2], args[3:])
    elif command == "offset-reset":
        offset_reset(args[0], args[1])
    elif command == "cooperative":
        cooperative(args[0], args[1], args[2])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
