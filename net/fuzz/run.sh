#!/usr/bin/env bash
# Builds and runs one of net's libFuzzer targets on the stable toolchain.
# cargo-fuzz needs nightly only for sanitizers; without them the coverage
# instrumentation is plain stable codegen flags, set here.
#
# Usage: net/fuzz/run.sh decode_request|decode_response|batch [SECONDS]   (default 600)
# New inputs go to net/fuzz/corpus/TARGET (ignored by git), crashes to
# net/fuzz/artifacts/. The checked-in seeds are real client frames.
set -euo pipefail
target=${1:?usage: run.sh decode_request|decode_response|batch [SECONDS]}
seconds=${2:-600}
cd "$(dirname "$0")"
triple=$(rustc -vV | sed -n 's/^host: //p')
# Instrument only the fuzzed code (--target keeps build scripts plain).
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cdebug-assertions -Coverflow-checks" \
  cargo build --release --target "$triple" --bin "$target"
mkdir -p "corpus/$target" artifacts
# -malloc_limit_mb: any single allocation above 256 MiB is reported as a
# crash, so a length trusted from the input cannot hide.
exec nice -n 19 "target/$triple/release/$target" "corpus/$target" "seeds/$target" \
  -max_total_time="$seconds" -malloc_limit_mb=256 -rss_limit_mb=2048 \
  -max_len=65536 -artifact_prefix=artifacts/
