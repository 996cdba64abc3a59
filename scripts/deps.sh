#!/bin/sh
# Installs the Debian packages a make target needs, and nothing else.
# Usage: scripts/deps.sh build|test|bench
# As root it runs apt-get; otherwise it prints the exact line to run and
# fails, so a make target never half-works for lack of a package.
set -eu

build_pkgs="gcc make cmake pkg-config libssl-dev libsqlite3-dev"
test_pkgs="$build_pkgs clang libclang-rt-14-dev clang-format mosquitto mosquitto-clients
 python3 python3-pytest python3-pytest-xdist python3-pytest-timeout python3-paho-mqtt
 libpaho-mqtt-dev gcc-arm-none-eabi libnewlib-arm-none-eabi openssl
 chromium"
bench_pkgs="$build_pkgs mosquitto mosquitto-clients"

case "${1:-build}" in
build) want=$build_pkgs ;;
test) want=$test_pkgs ;;
bench) want=$bench_pkgs ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# Node.js and npm (for MQTT.js tests) count as present when the commands
# are, whichever package brought them (some images ship npm inside nodejs).
if [ "${1:-build}" = test ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "deps: missing Debian packages. Run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
