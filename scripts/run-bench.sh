#!/bin/sh
# Runs every benchmark executable of a build (BUILD_DIR/bench_*), one after
# the other, and fails if any of them fails. Usage: scripts/run-bench.sh BUILD_DIR
set -eu
build=${1:-build}
found=0
status=0
for bench in "$build"/bench_*; do
    [ -x "$bench" ] || continue
    found=1
    echo "== $(basename "$bench")"
    if ! "$bench"; then
        echo "bench: $(basename "$bench") FAILED"
        status=1
    fi
done
[ "$found" = 1 ] || echo "bench: no benchmarks built in $build"
# The broker benchmark: midge against Mosquitto, same load, same run.
if [ -x "$build/midge" ] && [ -x "$build/loadgen" ]; then
    echo "== broker: midge vs mosquitto"
    "$(dirname "$0")/../bench/broker/compare.sh" "$build" || status=1
fi
exit $status
