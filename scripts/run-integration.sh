#!/bin/sh
# Runs the pytest integration suites against the binaries of BUILD_DIR with
# Debian's interpreter (the python3 first on PATH may not see Debian's
# pytest and paho-mqtt). Usage: scripts/run-integration.sh BUILD_DIR
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
MIDGE_BUILD=$(cd "${1:-build}" && pwd)
export MIDGE_BUILD
if ! ls "$root"/tests/integration/test_*.py >/dev/null 2>&1; then
    echo "integration: no suites yet"
    exit 0
fi
cd "$root/tests/integration"
set +e
/usr/bin/python3 -m pytest -q -n 2 -p no:cacheprovider --timeout=120 .
rc=$?
set -e
# pytest exits 5 when it collected no test; nothing failed then.
[ "$rc" = 5 ] && exit 0
exit "$rc"
