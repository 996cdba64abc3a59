#!/bin/sh
# Runs every libFuzzer target of a build for a bounded time each, starting
# from the seeds in tests/fuzz/corpus/<target>/ (copied, so runs never grow
# the repository). Targets run FUZZ_JOBS at a time (default: the core count).
# Usage: scripts/run-fuzz.sh BUILD_DIR SECONDS
#        scripts/run-fuzz.sh BUILD_DIR SECONDS TARGET   (one target)
set -eu
build=${1:-build-asan}
secs=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -ge 3 ]; then
    target=$3
    name=$(basename "$target")
    work=$(mktemp -d)
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then
        cp -r "$root/tests/fuzz/corpus/$name/." "$work/"
    fi
    mkdir -p "$root/tests/fuzz/artifacts"
    if ! "$target" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
        -artifact_prefix="$root/tests/fuzz/artifacts/$name-" \
        -print_final_stats=0 "$work" >"$work.log" 2>&1; then
        tail -60 "$work.log"
        echo "fuzz: $name FAILED (crash input saved under tests/fuzz/artifacts/)"
        rm -rf "$work" "$work.log"
        exit 1
    fi
    echo "fuzz: $name ${secs}s: $(grep -E "^Done" "$work.log" | tail -1)"
    rm -rf "$work" "$work.log"
    exit 0
fi

targets=$(find "$build" -maxdepth 1 -name 'fuzz_*' -type f -perm -u+x | sort)
if [ -z "$targets" ]; then
    echo "fuzz: no targets built"
    exit 0
fi
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
# xargs exits non-zero if any target failed.
echo "$targets" | xargs -P "$jobs" -I{} "$0" "$build" "$secs" {}
