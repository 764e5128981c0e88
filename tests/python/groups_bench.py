"""Consumer-group benchmarks (results in docs/benchmarks.md, "groups").

  commit BOOTSTRAP TOPIC SECONDS CONNECTIONS IN_FLIGHT
      OffsetCommit throughput: CONNECTIONS connections, each keeping
      IN_FLIGHT one-partition commits (simple commits, generation -1) in
      flight, groups spread over every shard; then the same load of
      OffsetFetch as the baseline without a log write. Prints per-second rates.
  fill BOOTSTRAP TOPIC COMMITS PER_REQUEST GROUPS
      writes COMMITS offset commits (PER_REQUEST partitions per request) over
      GROUPS groups, for the restart benchmark.
  ready BOOTSTRAP GROUP TIMEOUT_S
      polls OffsetFetch until it stops answering COORDINATOR_LOAD_IN_PROGRESS
      (or a connection error); prints the seconds waited.
  stabilise BOOTSTRAP TOPIC MEMBERS RUNS
      a MEMBERS-member confluent-kafka group; one member leaves (LeaveGroup);
      prints the time until every remaining member has its new assignment.

The commit/fetch load speaks the Kafka protocol directly (OffsetCommit v2,
OffsetFetch v2) so that the client is not the bottleneck.
"""

import asyncio
import statistics
import struct
import sys
import threading
import time


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def frame(api_key, version, correlation_id, body):
    header = struct.pack(">hhi", api_key, version, correlation_id) + string("groups-bench")
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def offset_commit(group, topic, partitions, offset):
    body = string(group) + struct.pack(">i", -1) + string("") + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
    for p in partitions:
        body += struct.pack(">iq", p, offset) + struct.pack(">h", -1)
    return body


def offset_fetch(group, topic, partitions):
    body = string(group) + struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
    for p in partitions:
        body += struct.pack(">i", p)
    return body


def commit_errors(response):
    """Error codes of an OffsetCommit v2 response body (after the correlation id)."""
    errors = []
    (topics,) = struct.unpack_from(">i", response, 0)
    at = 4
    for _ in range(topics):
        (n,) = struct.unpack_from(">h", response, at)
        at += 2 + n
        (parts,) = struct.unpack_from(">i", response, at)
        at += 4
        for _ in range(parts):
            _, error = struct.unpack_from(">ih", response, at)
            at += 6
            errors.append(error)
    return errors


def fetch_top_error(response):
    """The top-level error of an OffsetFetch v2 response (its last field)."""
    (error,) = struct.unpack_from(">h", response, len(response) - 2)
    return error


async def read_response(reader):
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    data = await reader.readexactly(size)
    return data[4:]  # skip the correlation id


async def connection_load(host, port, requests, in_flight, until, check):
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    correlation = 0
    while time.monotonic() < until:
        for _ in range(in_flight):
            api_key, version, body = requests(correlation)
            writer.write(frame(api_key, version, correlation, body))
            correlation += 1
        await writer.drain()
        for _ in range(in_flight):
            check(await read_response(reader))
            done += 1
    writer.close()
    return done


async def rate(host, port, seconds, connections, in_flight, make, check):
    until = time.monotonic() + seconds
    started = time.monotonic()
    counts = await asyncio.gather(*[
        connection_load(host, port, make(c), in_flight, until, check) for c in range(connections)
    ])
    return sum(counts) / (time.monotonic() - started)


def bench_commit(bootstrap, topic, seconds, connections, in_flight):
    host, port = bootstrap.rsplit(":", 1)
    failures = []

    def check_commit(response):
        bad = [e for e in commit_errors(response) if e != 0]
        if bad:
            failures.append(bad[0])

    def check_fetch(response):
        if fetch_top_error(response) != 0:
            failures.append(fetch_top_error(response))

    def committer(c):
        return lambda n: (8, 2, offset_commit(f"bench-{c}", topic, [c % 6], n))

    def fetcher(c):
        return lambda n: (9, 2, offset_fetch(f"bench-{c}", topic, [c % 6]))

    commits = asyncio.run(rate(host, int(port), seconds, connections, in_flight, committer, check_commit))
    fetches = asyncio.run(rate(host, int(port), seconds, connections, in_flight, fetcher, check_fetch))
    assert not failures, f"errors: {failures[:5]}"
    print(f"COMMITS_PER_S {commits:.0f}", flush=True)
    print(f"FETCHES_PER_S {fetches:.0f}", flush=True)


def fill(bootstrap, topic, commits, per_request, groups):
    host, port = bootstrap.rsplit(":", 1)
    requests = commits // per_request
    failures = []

    async def run():
        reader, writer = await asyncio.open_connection(host, int(port))
        window = 16
        for start in range(0, requests, window):
            batch = range(start, min(start + window, requests))
            for n in batch:
                body = offset_commit(f"fill-{n % groups}", topic, list(range(per_request)), n)
                writer.write(frame(8, 2, n, body))
            await writer.drain()
            for _ in batch:
                bad = [e for e in commit_errors(await read_response(reader)) if e != 0]
                if bad:
                    failures.append(bad[0])
        writer.close()

    started = time.monotonic()
    asyncio.run(run())
    assert not failures, failures[:5]
    print(f"FILLED {requests * per_request} in {time.monotonic() - started:.1f}s", flush=True)


def ready(bootstrap, group, timeout_s):
    host, port = bootstrap.rsplit(":", 1)
    started = time.monotonic()

    async def attempt():
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(frame(9, 2, 1, offset_fetch(group, "t", [0])))
        await writer.drain()
        error = fetch_top_error(await read_response(reader))
        writer.close()
        return error

    while time.monotonic() - started < timeout_s:
        try:
            if asyncio.run(attempt()) == 0:
                print(f"READY_S {time.monotonic() - started:.3f}", flush=True)
                return
        except OSError:
            pass
        time.sleep(0.005)
    raise SystemExit("coordinator never finished loading")


def stabilise(bootstrap, topic, members, runs):
    from confluent_kafka import Consumer

    results = []
    for run in range(runs):
        group = f"stabilise-{run}-{time.time_ns()}"
        lock = threading.Lock()
        assigned_at = {}
        stops = [threading.Event() for _ in range(members)]
        closed_at = {}

        def member(index):
            c = Consumer({
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 100,
                "partition.assignment.strategy": "range",
            })

            def on_assign(consumer, partitions):
                with lock:
                    assigned_at[index] = (time.monotonic(), len(partitions))

            c.subscribe([topic], on_assign=on_assign)
            while not stops[index].is_set():
                c.poll(0.01)
            closing = time.monotonic()
            c.close()  # LeaveGroup
            with lock:
                closed_at[index] = (closing, time.monotonic())

        threads = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(members)]
        for t in threads:
            t.start()
        # Settled: everyone assigned and nothing changed for a second.
        deadline = time.monotonic() + 60
        while True:
            with lock:
                snapshot = dict(assigned_at)
            if len(snapshot) == members and time.monotonic() - max(t for t, _ in snapshot.values()) > 1.0:
                break
            assert time.monotonic() < deadline, "the group never settled"
            time.sleep(0.05)
        with lock:
            assigned_at.clear()
        left_at = time.monotonic()
        # Member 0 leaves: its thread closes its consumer (LeaveGroup) within
        # one 10 ms poll.
        stops[0].set()
        deadline = time.monotonic() + 60
        while True:
            with lock:
                others = {i: v for i, v in assigned_at.items() if i != 0}
            if len(others) == members - 1:
                break
            assert time.monotonic() < deadline, f"only {len(others)} members reassigned"
            time.sleep(0.005)
        settled = max(t for t, _ in others.values())
        elapsed = settled - left_at
        results.append(elapsed)
        close_start, close_end = closed_at[0]
        print(f"RUN {run} stabilised in {elapsed * 1000:.0f} ms "
              f"(close() took {(close_end - close_start) * 1000:.0f} ms; "
              f"{(settled - close_end) * 1000:.0f} ms after close() returned)", flush=True)
        for event in stops:
            event.set()
        for t in threads:
            t.join(10)
    print(f"STABILISE_MEDIAN_MS {statistics.median(results) * 1000:.0f}", flush=True)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "commit":
        bench_commit(args[0], args[1], float(args[2]), int(args[3]), int(args[4]))
    elif command == "fill":
        fill(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif command == "ready":
        ready(args[0], args[1], float(args[2]))
    elif command == "stabilise":
        stabilise(args[0], args[1], int(args[2]), int(args[3]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
