#!/usr/bin/env bash
# Regenerates the golden request frames in this directory from real clients:
# kcat (librdkafka), kafka-python and confluent-kafka, each talking to the
# scripted responder in net/examples/golden_capture.rs on 127.0.0.1.
# Usage: net/tests/data/capture.sh   (from the workspace root)
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
port=19093
cargo build -q -p net --example golden_capture
bin=target/debug/examples/golden_capture

run() { # prefix, then the client command
  local prefix=$1; shift
  "$bin" "$port" "$out" "$prefix" 2>/dev/null &
  local pid=$!
  sleep 0.5
  timeout 30 "$@" || echo "client $prefix exited with $?" >&2
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

b="127.0.0.1:$port"
run kcat bash -c "
  kcat -b $b -L -t golden >/dev/null
  echo 'hello from kcat' | kcat -b $b -P -t golden -k kcat-key
  kcat -b $b -C -t golden -o beginning -c 1 -e
  kcat -b $b -G golden-group -c 1 -o beginning golden"

run kafka-python python3 - "$b" <<'PY'
import sys
from kafka import KafkaProducer, KafkaConsumer
b = sys.argv[1]
p = KafkaProducer(bootstrap_servers=b, linger_ms=0)
p.send('golden', key=b'python-key', value=b'hello from kafka-python', headers=[('h', b'v')]).get(timeout=10)
p.close()
c = KafkaConsumer('golden', bootstrap_servers=b, group_id='golden-group',
                  auto_offset_reset='earliest', consumer_timeout_ms=10000)
for m in c:
    print(m.value)
    break
c.close()
PY

run confluent-kafka python3 - "$b" <<'PY'
import sys
from confluent_kafka import Producer, Consumer
b = sys.argv[1]
p = Producer({'bootstrap.servers': b, 'enable.idempotence': True})
p.produce('golden', key=b'confluent-key', value=b'hello from confluent-kafka')
assert p.flush(10) == 0
c = Consumer({'bootstrap.servers': b, 'group.id': 'golden-group', 'auto.offset.reset': 'earliest'})
c.subscribe(['golden'])
for _ in range(20):
    m = c.poll(1.0)
    if m is not None and m.error() is None:
        print(m.value())
        break
c.close()
PY

# An unfiltered topic listing: librdkafka 2.16 puts 3 stray bytes in this
# Metadata v12 request (saved as .trailing; the broker ignores them, as Kafka).
run confluent-kafka-admin python3 - "$b" <<'PY'
import sys
from confluent_kafka.admin import AdminClient
AdminClient({'bootstrap.servers': sys.argv[1]}).list_topics(timeout=10)
PY
rm -f "$out"/confluent-kafka-admin-*.bin
ls "$out"
