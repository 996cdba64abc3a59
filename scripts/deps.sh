#!/bin/sh
# Installs the Debian packages a make target needs, and nothing else.
# Usage: scripts/deps.sh build|test|bench|arm64
# As root it runs apt-get; otherwise it prints the exact line to run and
# fails, so a make target never half-works for lack of a package.
set -eu

build_pkgs="gcc make cmake pkg-config libssl-dev libsqlite3-dev"
test_pkgs="$build_pkgs clang libclang-rt-14-dev clang-format mosquitto mosquitto-clients
 python3 python3-pytest python3-pytest-xdist python3-pytest-timeout python3-paho-mqtt
 libpaho-mqtt-dev gcc-arm-none-eabi libnewlib-arm-none-eabi openssl
 chromium"
bench_pkgs="$build_pkgs mosquitto mosquitto-clients"
# The arm64 cross build and its qemu smoke test: Debian's cross compiler,
# qemu-user, and the arm64 libraries through multiarch.
arm64_pkgs="$build_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
 libssl-dev:arm64 libsqlite3-dev:arm64 mosquitto-clients python3 python3-pytest
 python3-pytest-timeout file"

case "${1:-build}" in
build) want=$build_pkgs ;;
test) want=$test_pkgs ;;
bench) want=$bench_pkgs ;;
arm64) want=$arm64_pkgs ;;
*) echo "usage: $0 build|test|bench|arm64" >&2; exit 2 ;;
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

# The :arm64 packages need the architecture known to dpkg first.
need_arch=""
if [ "${1:-build}" = arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    need_arch=yes
fi

if [ "$(id -u)" -eq 0 ]; then
    if [ -n "$need_arch" ]; then dpkg --add-architecture arm64; fi
    echo "deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "deps: missing Debian packages. Run:" >&2
    if [ -n "$need_arch" ]; then
        echo "  sudo dpkg --add-architecture arm64 && sudo apt-get update" >&2
    fi
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
