#!/bin/sh
# Runs every libFuzzer target of a build for a bounded time each, starting
# from the seeds in tests/fuzz/corpus/<target>/ (copied, so runs never grow
# the repository). Usage: scripts/run-fuzz.sh BUILD_DIR SECONDS
set -eu
build=${1:-build-asan}
secs=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
found=0
for target in "$build"/fuzz_*; do
    [ -x "$target" ] || continue
    found=1
    name=$(basename "$target")
    work=$(mktemp -d)
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then
        cp -r "$root/tests/fuzz/corpus/$name/." "$work/"
    fi
    mkdir -p "$root/tests/fuzz/artifacts"
    echo "fuzz: $name for ${secs}s"
    if ! "$target" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
        -artifact_prefix="$root/tests/fuzz/artifacts/$name-" \
        -print_final_stats=0 "$work" >"$work.log" 2>&1; then
        tail -60 "$work.log"
        echo "fuzz: $name FAILED"
        rm -rf "$work" "$work.log"
        exit 1
    fi
    grep -E "^(#[0-9]+|Done)" "$work.log" | tail -1 || true
    rm -rf "$work" "$work.log"
done
[ "$found" = 1 ] || echo "fuzz: no targets built"
