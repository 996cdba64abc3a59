"""Smoke test of the arm64 cross build (`make arm64`) under qemu-user.

The broker, midge_sub and midge_pub from build-arm64/ run as aarch64
binaries under qemu-user: the broker is started on a free loopback port and
a message makes a round trip through it. `make arm64-smoke` (part of `make
test`) installs the cross tools, builds and runs it; run alone without a
cross build or qemu the tests are skipped.

The binaries run against the arm64 libraries installed through multiarch
(libc6:arm64, libssl3:arm64, libsqlite3-0:arm64), so qemu's library root is
`/`. The cross compiler's own root, /usr/aarch64-linux-gnu, holds a loader
from a different glibc build than the multiarch libc.so.6 that qemu then
finds for libssl; that pair loads, but pthread_create spins forever in the
mismatched loader's thread list.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, free_port, wait_for_port

ARM64_BUILD = os.environ.get("MIDGE_ARM64_BUILD", os.path.join(ROOT, "build-arm64"))
SYSROOT = "/"
QEMU = shutil.which("qemu-aarch64")

pytestmark = pytest.mark.skipif(
    QEMU is None or not os.path.exists(os.path.join(ARM64_BUILD, "midge")),
    reason="needs `make arm64` (cross build) and qemu-aarch64")


def under_qemu(name, *args):
    return [QEMU, "-L", SYSROOT, os.path.join(ARM64_BUILD, name)] + list(args)


@pytest.fixture
def arm64_broker():
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="midge-arm64-") as d:
        log_path = os.path.join(d, "midge.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(under_qemu("midge", "-p", str(port)), stdout=log,
                                    stderr=subprocess.STDOUT, cwd=d)
            try:
                # Emulation makes start-up slower than native; allow for it.
                wait_for_port(port, timeout=30.0, proc=proc)
                yield port, proc
            finally:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                        raise AssertionError("arm64 midge ignored SIGTERM")
        with open(log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        assert proc.returncode == 0, "arm64 midge exited %s:\n%s" % (proc.returncode, text)


def test_binaries_are_aarch64():
    for name in ("midge", "midge_pub", "midge_sub"):
        out = subprocess.run(["file", "-L", os.path.join(ARM64_BUILD, name)],
                             capture_output=True, text=True, check=True).stdout
        assert "ARM aarch64" in out, out


def round_trip(port, pub_argv, qos):
    """Subscribes with the arm64 midge_sub, publishes until it has the
    message (it may not have subscribed yet when the first one goes)."""
    topic = "lab/arm64/qos%d" % qos
    payload = "hello from aarch64 qos %d" % qos
    sub = subprocess.Popen(
        under_qemu("midge_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                   "-q", str(qos), "-C", "1", "-W", "60", "-v"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        for _ in range(60):
            if sub.poll() is not None or time.monotonic() > deadline:
                break
            subprocess.run(pub_argv("127.0.0.1", port, topic, payload, qos), check=True,
                           timeout=30, capture_output=True)
            try:
                sub.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
        out, err = sub.communicate(timeout=30)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    assert sub.returncode == 0, err
    assert out.strip() == "%s %s" % (topic, payload)


def arm64_pub(host, port, topic, payload, qos):
    return under_qemu("midge_pub", "-h", host, "-p", str(port), "-t", topic, "-m", payload,
                      "-q", str(qos))


def host_mosquitto_pub(host, port, topic, payload, qos):
    return ["mosquitto_pub", "-h", host, "-p", str(port), "-t", topic, "-m", payload,
            "-q", str(qos)]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_round_trip_arm64_tools(arm64_broker, qos):
    port, _ = arm64_broker
    round_trip(port, arm64_pub, qos)


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="needs mosquitto-clients")
def test_round_trip_host_publisher(arm64_broker):
    port, _ = arm64_broker
    round_trip(port, host_mosquitto_pub, 1)
