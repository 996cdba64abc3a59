"""The logging directives of mosquitto.conf: log_dest (file, stdout,
syslog, topic), log_type, log_timestamp(_format), log_facility and
connection_messages, against midge and Mosquitto where both behave alike."""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

import mqttraw as R
from conftest import MOSQUITTO, free_port, midge_binary, start_midge, wait_for_port

# Both brokers run as root in the tests' private directories; `user root`
# keeps Mosquitto (and midge) from switching to a user that could not open
# the log file there.
ROOT = "user root\n"


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def lines_of(path):
    return read(path).splitlines()


def file_config(path, extra=""):
    return ROOT + "log_dest file %s\n%s" % (path, extra)


def test_log_dest_file_gets_the_start_lines(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(path))
    text = wait_for(lambda: read(path), what="the log file")
    assert re.search(r"^\d+: \S+ version \S+ starting$", text, re.M), text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # log_dest replaced the default stderr.
    assert "starting" not in b.log_text()


def test_log_type_is_a_set(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(path, "log_type error\nlog_type subscribe\n"))
    with R.connected(b.port, "typeset") as c:
        c.subscribe([("type/#", 1)])
    text = wait_for(lambda: read(path), what="the subscribe line")
    assert re.search(r"^\d+: typeset 1 type/#$", text, re.M), text
    # No notice or information lines: no start line, no connection line.
    assert "starting" not in text and "New client" not in text, text


def test_subscribe_and_unsubscribe_lines_as_mosquitto(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(
        path, "log_type subscribe\nlog_type unsubscribe\nlog_timestamp false\n"))
    with R.connected(b.port, "subber") as c:
        c.subscribe([("a/#", 1), ("b", 0)])
        c.unsubscribe(["a/#", "never/subscribed"])
    expect = ["subber 1 a/#", "subber 0 b", "subber a/#", "subber never/subscribed"]
    assert wait_for(lambda: lines_of(path) == expect and expect,
                    what="%r, have %r" % (expect, lines_of(path)))


def test_log_timestamp_format(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(path, "log_type subscribe\n"
                                      "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"))
    with R.connected(b.port, "stamped") as c:
        c.subscribe([("t", 0)])
    line = wait_for(lambda: [l for l in lines_of(path) if l.endswith("stamped 0 t")],
                    what="the subscribe line")[0]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: stamped 0 t$", line), line


def test_connection_messages_false(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(path, "connection_messages false\nlog_type all\n"))
    with R.connected(b.port, "quiet") as c:
        c.subscribe([("q", 0)])
        c.disconnect()
    # The subscribe line proves the client was seen and the log written.
    text = wait_for(lambda: re.search(r"quiet 0 q$", read(path), re.M) and read(path),
                    what="the subscribe line")
    time.sleep(0.3)
    text = read(path)
    assert "New client connected" not in text and "quiet disconnected" not in text, text


def test_connection_messages_default(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(path))
    with R.connected(b.port, "chatty") as c:
        c.disconnect()
    with R.connected(b.port, "named", version=5, username="bob", keepalive=30) as c:
        c.disconnect()
    wait_for(lambda: re.search(r"^\d+: New client connected from 127\.0\.0\.1:\d+ as chatty "
                               r"\(p2, c1, k60\)\.$", read(path), re.M),
             what="the connection line")
    wait_for(lambda: re.search(r"^\d+: New client connected from 127\.0\.0\.1:\d+ as named "
                               r"\(p5, c1, k30, u'bob'\)\.$", read(path), re.M),
             what="the connection line with a user name, have " + read(path))
    wait_for(lambda: re.search(r"^\d+: Client chatty disconnected\.$", read(path), re.M),
             what="the disconnection line")


def test_log_dest_topic(configured_broker):
    b = configured_broker("log_dest topic\nlog_type all\n")
    with R.connected(b.port, "watcher") as w:
        # Mosquitto may send the subscribe line before the SUBACK: no expect().
        w.send(R.subscribe(w.mid(), [("$SYS/broker/log/#", 2)], w.version))
        visited = False
        got = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
                any(p.endswith("visitor 1 visit/+")
                    for p in got.get("$SYS/broker/log/M/subscribe", []))
                and any("as visitor" in p for p in got.get("$SYS/broker/log/N", []))):
            try:
                p = w.recv(timeout=0.5)
            except R.Timeout:
                continue
            if p.type == R.SUBACK and not visited:
                visited = True
                with R.connected(b.port, "visitor") as v:
                    v.subscribe([("visit/+", 1)])
            elif p.type == R.PUBLISH:
                assert p.qos == 2 and not p.retain
                w.send(R.ack(R.PUBREC, p.mid, w.version))
                got.setdefault(p.topic, []).append(p.payload.decode())
            elif p.type == R.PUBREL:
                w.send(R.ack(R.PUBCOMP, p.mid, w.version))
        assert any(re.match(r"^\d+: watcher 2 \$SYS/broker/log/#$", p)
                   for p in got.get("$SYS/broker/log/M/subscribe", [])), got
        assert any(re.match(r"^\d+: visitor 1 visit/\+$", p)
                   for p in got.get("$SYS/broker/log/M/subscribe", [])), got
        assert any(re.match(r"^\d+: New client connected from .* as visitor ", p)
                   for p in got.get("$SYS/broker/log/N", [])), got
        # Debug lines are never published.
        assert "$SYS/broker/log/D" not in got


def test_log_dest_topic_is_prompt_midge(workdir):
    b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "log_dest topic\nlog_type subscribe\n")
    try:
        with R.connected(b.port, "w") as w:
            w.subscribe([("$SYS/broker/log/M/#", 0)])
            w.recv_publish(timeout=2)  # its own subscribe line
            with R.connected(b.port, "fast") as v:
                t0 = time.monotonic()
                v.subscribe([("x", 0)])
                m = w.recv_publish(timeout=2)
                elapsed = time.monotonic() - t0
        assert m.payload.decode().endswith("fast 0 x")
        assert elapsed < 0.5, elapsed
    finally:
        b.check_clean(b.stop())


def test_sighup_reopens_the_log_file(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(path))
    wait_for(lambda: "starting" in read(path), what="the start line")
    os.rename(path, path + ".1")
    b.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: os.path.exists(path), what="a new log file")
    with R.connected(b.port, "after-rotate") as c:
        c.disconnect()
    wait_for(lambda: "as after-rotate" in read(path), what="the connection in the new file")
    assert "after-rotate" not in read(path + ".1")
    assert "starting" in read(path + ".1")


def test_unopenable_log_file_refuses_start_midge(workdir):
    port = free_port()
    conf = os.path.join(workdir, "midge.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\n%slog_dest file %s\n"
                % (port, ROOT, os.path.join(workdir, "no", "such", "x.log")))
    r = subprocess.run([midge_binary(), "-c", conf], capture_output=True, timeout=10)
    assert r.returncode == 1
    assert b"Unable to open log file" in r.stderr, r.stderr


def test_sighup_with_unopenable_file_keeps_the_old_one_midge(workdir):
    path = os.path.join(workdir, "broker.log")
    b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "log_dest file " + path + "\n")
    try:
        wait_for(lambda: "starting" in read(path), what="the start line")
        conf = os.path.join(workdir, "midge.conf")
        text = read(conf).replace("log_dest file " + path,
                                  "log_dest file " + os.path.join(workdir, "gone", "x.log"))
        with open(conf, "w") as f:
            f.write(text)
        b.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "Unable to open log file" in read(path), what="the reload error")
        with R.connected(b.port, "still-here") as c:
            c.disconnect()
        wait_for(lambda: "as still-here" in read(path), what="lines in the old file")
    finally:
        b.check_clean(b.stop())


def start_split(kind, workdir, config):
    """A broker whose stdout and stderr go to separate files."""
    port = free_port()
    conf = os.path.join(workdir, kind + ".conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n%s%s" % (port, ROOT, config))
    argv = [midge_binary() if kind == "midge" else MOSQUITTO, "-c", conf]
    out = open(os.path.join(workdir, kind + ".out"), "wb")
    err = open(os.path.join(workdir, kind + ".err"), "wb")
    proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=workdir)
    out.close()
    err.close()
    return proc, port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("broker did not stop on SIGTERM")


@pytest.mark.parametrize("kind", ["midge", "mosquitto"])
def test_log_dest_stdout(kind, workdir):
    proc, port = start_split(kind, workdir, "log_dest stdout\nlog_type subscribe\n")
    try:
        wait_for_port(port, proc=proc)
        with R.connected(port, "outie") as c:
            c.subscribe([("o", 0)])
        out = os.path.join(workdir, kind + ".out")
        if kind == "midge":
            # midge writes each line at once; Mosquitto 2.0.11 buffers a
            # stdout that is not a terminal until it exits.
            wait_for(lambda: re.search(r"^\d+: outie 0 o$", read(out), re.M),
                     what="the stdout line")
    finally:
        rc = stop(proc)
    assert re.search(r"^\d+: outie 0 o$", read(out), re.M), read(out)
    assert "outie" not in read(os.path.join(workdir, kind + ".err"))
    if kind == "midge":
        assert rc == 0


SYSLOG_SCRIPT = """
set -e
mount --make-rprivate /
mkdir -p "$W/hostdev"
mount --rbind /dev "$W/hostdev"
mount -t tmpfs tmpfs /dev
for n in null zero random urandom; do
    touch /dev/$n
    mount --bind "$W/hostdev/$n" /dev/$n
done
ln -s "$W/log.sock" /dev/log
exec "$@"
"""


@pytest.mark.parametrize("kind", ["midge", "mosquitto"])
def test_log_dest_syslog(kind, workdir):
    """syslog(3) writes to /dev/log; the broker runs in a private mount
    namespace whose /dev/log is this test's socket, so the machine's
    syslog is never touched."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private /dev/log")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace here: %r" % probe.stderr)
    sock_path = os.path.join(workdir, "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(0.5)
    port = free_port()
    conf = os.path.join(workdir, kind + ".conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n%slog_dest syslog\n"
                "log_facility 3\nlog_type subscribe\n" % (port, ROOT))
    argv = ["unshare", "-m", "sh", "-c", SYSLOG_SCRIPT, "sh",
            midge_binary() if kind == "midge" else MOSQUITTO, "-c", conf]
    log = open(os.path.join(workdir, kind + ".log"), "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                            env=dict(os.environ, W=workdir))
    log.close()
    try:
        wait_for_port(port, proc=proc)
        with R.connected(port, "sysloggy") as c:
            c.subscribe([("s/#", 1)])
        got = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(b"sysloggy 1 s/#" in g for g in got):
            try:
                got.append(sock.recv(4096))
            except socket.timeout:
                pass
        line = [g for g in got if b"sysloggy 1 s/#" in g]
        assert line, got
        # local3 (19) * 8 + notice (5); the tag is the program's name.
        assert re.match(rb"^<157>.*\b(midge|mosquitto)\[\d+\]: \d+: sysloggy 1 s/#$",
                        line[0]), line[0]
    finally:
        rc = stop(proc)
        sock.close()
    if kind == "midge":
        assert rc == 0


def test_sighup_applies_a_new_log_type(configured_broker, workdir):
    path = os.path.join(workdir, "broker.log")
    b = configured_broker(file_config(path, "log_type error\n"))
    with R.connected(b.port, "before") as c:
        c.subscribe([("x", 0)])
    conf = os.path.join(workdir, "midge.conf" if b.name == "midge" else "mosquitto.conf")
    with open(conf, "a") as f:
        f.write("\nlog_type subscribe\n")
    b.proc.send_signal(signal.SIGHUP)
    # The reload is asynchronous: subscribe until a line shows up.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "after 0 y" not in read(path):
        with R.connected(b.port, "after") as c:
            c.subscribe([("y", 0)])
        time.sleep(0.1)
    text = read(path)
    assert re.search(r"^\d+: after 0 y$", text, re.M), text
    assert "before 0 x" not in text


def test_sighup_turns_the_topic_destination_on_midge(workdir):
    """midge only: in this sequence Mosquitto 2.0.11 published nothing."""
    b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "log_type subscribe\n")
    try:
        sighup_turns_the_topic_destination_on(b, workdir)
    finally:
        b.check_clean(b.stop())


def sighup_turns_the_topic_destination_on(b, workdir):
    with R.connected(b.port, "w") as w:
        w.subscribe([("$SYS/broker/log/M/#", 0)])
        conf = os.path.join(workdir, "midge.conf" if b.name == "midge" else "mosquitto.conf")
        with open(conf, "a") as f:
            f.write("\nlog_dest topic\n")
        b.proc.send_signal(signal.SIGHUP)
        # Until the reload is done subscribe lines go to stderr only: poke
        # with a new filter each time until one is published.
        got = None
        with R.connected(b.port, "poker") as poker:
            for i in range(50):
                poker.subscribe([("poke/%d" % i, 0)])
                try:
                    got = w.recv_publish(timeout=0.1)
                    break
                except R.Timeout:
                    pass
        assert got is not None and got.topic == "$SYS/broker/log/M/subscribe"
        assert re.match(r"^\d+: poker 0 poke/\d+$", got.payload.decode()), got
