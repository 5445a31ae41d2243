#!/usr/bin/env bash
# One command from a clean checkout: builds shardis and the perf tools in release mode, then
# runs the side-by-side comparison with redis-server (installed from Debian when missing) and
# prints the ratio table (also written to perf/last-compare.md). Extra arguments go to
# `compare` (for example --quick, --rounds 3, --scaling).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux >/dev/null; }
cargo build --release --workspace --bins
exec ./target/release/compare "$@"
