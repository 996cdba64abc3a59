"""The command line and process behaviour of midge: -p, -c, -h, -v,
--threads, default bind addresses, start-up time, SIGTERM/SIGINT, survival
of connect-and-close probes."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

import mqttraw as R
from conftest import free_port, midge_binary


def spawn(workdir, args, name="midge-cli"):
    log = open(os.path.join(workdir, name + ".log"), "wb")
    proc = subprocess.Popen([midge_binary()] + args, stdout=log, stderr=subprocess.STDOUT,
                            cwd=workdir)
    log.close()
    return proc


def log_of(workdir, name="midge-cli"):
    with open(os.path.join(workdir, name + ".log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def stop(proc, sig=signal.SIGTERM, timeout=5):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("still running %.0fs after signal %d" % (timeout, sig))


def wait_listening(port, deadline_s, host="127.0.0.1", proc=None):
    """Seconds until a TCP connect succeeds; fails after deadline_s."""
    t0 = time.monotonic()
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("exited with %s before listening" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return time.monotonic() - t0
        except OSError:
            if time.monotonic() - t0 > deadline_s:
                raise AssertionError("nothing on %s:%d after %.1fs" % (host, port, deadline_s))
            time.sleep(0.01)


def test_port_option_listens_within_a_second(workdir):
    port = free_port()
    proc = spawn(workdir, ["-p", str(port)])
    try:
        elapsed = wait_listening(port, 1.0, proc=proc)
        assert elapsed < 1.0
        with R.connected(port, "cli") as c:
            c.ping()
    finally:
        assert stop(proc) == 0, log_of(workdir)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_exits_promptly_with_zero(workdir, sig):
    port = free_port()
    proc = spawn(workdir, ["-p", str(port)])
    clients = []
    try:
        wait_listening(port, 2.0, proc=proc)
        clients = [R.connected(port, "c%d" % i, version=4 + i % 2) for i in range(4)]
        clients[0].subscribe([("x/#", 1)])
        t0 = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(3)
        elapsed = time.monotonic() - t0
    finally:
        for c in clients:
            c.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, log_of(workdir)
    assert elapsed < 1.0, "took %.2fs to exit" % elapsed


def test_help_prints_usage(workdir):
    r = subprocess.run([midge_binary(), "-h"], capture_output=True, timeout=5)
    text = (r.stdout + r.stderr).decode()
    assert "usage" in text.lower(), text
    assert "-p" in text and "-c" in text
    assert r.returncode in (0, 3)  # Mosquitto exits 3 after -h


def test_unknown_option_fails(workdir):
    r = subprocess.run([midge_binary(), "--no-such-option"], capture_output=True, timeout=5)
    assert r.returncode != 0


def test_connect_and_close_probes_midge(midge):
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", midge.port), timeout=2):
            pass
    # half a CONNECT, then gone; and a reset
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", midge.port), timeout=2)
        s.sendall(b"\x10\x10\x00\x04MQ")
        s.close()
        s = socket.create_connection(("127.0.0.1", midge.port), timeout=2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    assert midge.proc.poll() is None
    with R.connected(midge.port, "after-probes") as c:
        c.ping()


def test_connect_timeout_closes_silent_socket_midge(midge):
    """A socket that never sends CONNECT is closed (midge: after 10 s;
    Mosquitto 2.0.11 keeps it open indefinitely)."""
    with R.Client(midge.port, timeout=13) as c:
        t0 = time.monotonic()
        assert c.wait_closed(13) == []
        assert time.monotonic() - t0 >= 1.0


def test_default_listens_on_ipv6_loopback(workdir):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 on this machine")
    port = free_port()
    proc = spawn(workdir, ["-p", str(port)])
    try:
        wait_listening(port, 2.0, proc=proc)
        wait_listening(port, 2.0, host="::1", proc=proc)
        with socket.create_connection(("::1", port), timeout=2) as s:
            s.sendall(R.connect("v6"))
            assert s.recv(4) == b"\x20\x02\x00\x00"
    finally:
        assert stop(proc) == 0


def non_loopback_address():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def test_default_not_on_other_interfaces(workdir):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("no non-loopback IPv4 address here")
    port = free_port()
    proc = spawn(workdir, ["-p", str(port)])
    try:
        wait_listening(port, 2.0, proc=proc)
        with pytest.raises(OSError):
            socket.create_connection((addr, port), timeout=1).close()
    finally:
        assert stop(proc) == 0


def test_config_file_port(workdir):
    port = free_port()
    conf = os.path.join(workdir, "m.conf")
    with open(conf, "w") as f:
        f.write("# comment\nlistener %d 127.0.0.1\nallow_anonymous true\n" % port)
    proc = spawn(workdir, ["-c", conf])
    try:
        wait_listening(port, 2.0, proc=proc)
        with R.connected(port, "conf") as c:
            c.ping()
    finally:
        assert stop(proc) == 0, log_of(workdir)


def test_bad_config_file_fails(workdir):
    conf = os.path.join(workdir, "bad.conf")
    with open(conf, "w") as f:
        f.write("no_such_directive 1\n")
    r = subprocess.run([midge_binary(), "-c", conf], capture_output=True, timeout=5)
    assert r.returncode != 0


@pytest.mark.parametrize("threads", [1, 4])
def test_threads_option(workdir, threads):
    port = free_port()
    proc = spawn(workdir, ["-p", str(port), "--threads", str(threads)])
    try:
        wait_listening(port, 2.0, proc=proc)
        subs = [R.connected(port, "t%d" % i) for i in range(8)]
        for s in subs:
            s.subscribe([("thr/#", 1)])
        with R.connected(port, "p") as p:
            for i in range(20):
                p.publish("thr/x", b"%d" % i, qos=1)
        for s in subs:
            assert [s.recv_publish().payload for _ in range(20)] == [b"%d" % i
                                                                      for i in range(20)]
            s.close()
    finally:
        assert stop(proc) == 0, log_of(workdir)


def run_and_log(workdir, args, name):
    port = free_port()
    proc = spawn(workdir, ["-p", str(port)] + args, name=name)
    try:
        wait_listening(port, 2.0, proc=proc)
        with R.connected(port, "verbose-client") as c:
            c.ping()
        time.sleep(0.3)
    finally:
        assert stop(proc) == 0
    return log_of(workdir, name)


def test_verbose_logs_with_timestamps(workdir):
    """-v logs each connection, every line starting with a timestamp as
    Mosquitto's do."""
    verbose = run_and_log(workdir, ["-v"], "verbose")
    assert "verbose-client" in verbose, verbose
    lines = [line for line in verbose.splitlines() if line.strip()]
    assert all(re.match(r"^\d{9,}: ", line) for line in lines), verbose


def test_midge_fixture_broker_survives_many_clients(midge):
    clients = [R.connected(midge.port, "many-%d" % i) for i in range(100)]
    for c in clients:
        c.close()
    with R.connected(midge.port, "last") as c:
        c.ping()



def test_config_bind_address_ipv6_only(workdir):
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 on this machine")
    port = free_port()
    conf = os.path.join(workdir, "v6.conf")
    with open(conf, "w") as f:
        f.write("listener %d ::1\nallow_anonymous true\n" % port)
    proc = spawn(workdir, ["-c", conf])
    try:
        wait_listening(port, 2.0, host="::1", proc=proc)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        assert stop(proc) == 0, log_of(workdir)


def test_slow_reader_does_not_block_its_worker(workdir):
    """With one worker thread, a subscriber that never reads shares the
    thread with everyone else: they must still be served."""
    port = free_port()
    proc = spawn(workdir, ["-p", str(port), "--threads", "1"])
    slow = None
    try:
        wait_listening(port, 2.0, proc=proc)
        slow = R.Client(port)
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert slow.connect("slow").reason == 0
        slow.subscribe([("flood/#", 0)])
        with R.connected(port, "fast") as fast, R.connected(port, "p") as p:
            fast.subscribe([("flood/#", 0)])
            blob = b"z" * 20000
            t0 = time.monotonic()
            for i in range(200):
                p.publish("flood/x", blob, qos=1)
                assert fast.recv_publish(timeout=5).payload == blob
            assert time.monotonic() - t0 < 20
            fast.ping()
    finally:
        if slow is not None:
            slow.close()
        assert stop(proc) == 0, log_of(workdir)
