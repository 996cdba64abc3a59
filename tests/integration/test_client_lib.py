"""libmidge against real brokers and a fake one.

Each test runs build/midge_client_check (tests/unit/client/check.c), which
prints "OK" when its scenario holds. The fake brokers here are small
socket servers that speak just enough MQTT to lead the client into a
situation: malformed packets, unanswered keep-alives, session resumption.
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import free_port, midge_binary, start_midge, start_mosquitto


def check(scenario, port, timeout=90, **kw):
    argv = [midge_binary("midge_client_check"), scenario, str(port)]
    argv += ["%s=%s" % (k, v) for k, v in kw.items()]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    bad = [m for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
           if m in err]
    assert not bad, err[-4000:]
    return p.returncode, out, err


def assert_ok(scenario, port, **kw):
    rc, out, err = check(scenario, port, **kw)
    assert rc == 0 and "OK" in out, "%s: rc %s\n%s\n%s" % (scenario, rc, out, err[-3000:])


@pytest.mark.parametrize("version", [3, 4, 5])
@pytest.mark.parametrize("scenario", ["pubsub", "persistent", "will", "retained"])
def test_scenario(any_broker, scenario, version):
    assert_ok(scenario, any_broker.port, v=version, topic="t-%s-%d" % (scenario, version))


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("scenario", ["threads", "callerloop", "keepalive", "forever"])
def test_runtime(any_broker, scenario, version):
    assert_ok(scenario, any_broker.port, v=version, topic="rt-%s-%d" % (scenario, version))


def test_v5_properties_round_trip(any_broker):
    assert_ok("props", any_broker.port, v=5, topic="props")


def read_line(proc, want, timeout=20.0):
    """Reads stdout lines of proc until one starts with want."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode("utf-8", "replace")
        if not line:
            break
        lines.append(line)
        if line.startswith(want):
            return line
    raise AssertionError("no %r from the client; got %r" % (want, lines))


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("broker_kind", ["midge", "mosquitto"])
def test_reconnect_after_broker_restart(workdir, broker_kind, version):
    start = start_midge if broker_kind == "midge" else start_mosquitto
    b = start(workdir)
    port = b.port
    proc = subprocess.Popen([midge_binary("midge_client_check"), "reconnect", str(port),
                             "v=%d" % version, "topic=rc"], stdout=subprocess.PIPE)
    try:
        read_line(proc, "READY")
        b.stop()
        read_line(proc, "OFFLINE")
        time.sleep(0.3)  # the client queues offline meanwhile
        b = start(workdir, port=port)
        out = proc.communicate(timeout=60)[0].decode()
        assert proc.returncode == 0 and "OK" in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        b.stop()


# ---- CONNACK refusals worded like Mosquitto's tools ----

@pytest.fixture
def refusing_mosquitto(workdir):
    # Mosquitto started as root reads the password file as its own user.
    os.chmod(workdir, 0o755)
    pw = os.path.join(workdir, "pw")
    open(pw, "w").close()
    subprocess.run(["mosquitto_passwd", "-b", pw, "alice", "secret"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(pw, 0o644)
    b = start_mosquitto(workdir, "allow_anonymous false\npassword_file %s\n" % pw)
    yield b
    b.stop()


@pytest.mark.parametrize("version", [3, 4, 5])
@pytest.mark.parametrize("creds", [{}, {"user": "alice", "pass": "wrong"}])
def test_connack_refusal_words_match_mosquitto_sub(refusing_mosquitto, version, creds):
    port = refusing_mosquitto.port
    rc, out, err = check("fail", port, v=version, **creds)
    assert rc == 0, out + err
    refused = [l for l in out.splitlines() if l.startswith("REFUSED ")]
    assert refused, out
    ours = refused[0][len("REFUSED "):]
    argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "x", "-W", "3",
            "-V", {3: "mqttv31", 4: "mqttv311", 5: "mqttv5"}[version]]
    if creds:
        argv += ["-u", creds["user"], "-P", creds["pass"]]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    theirs = p.stderr.decode().strip()
    assert theirs == "Connection error: " + ours, (theirs, ours)
    assert "ERROR connection refused by the server" in out, out


# ---- TLS against Mosquitto with certificates made now ----

def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_cert(d, name, ca, san, client=False):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-subj",
            "/CN=" + name, "-out", name + ".csr", cwd=d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        if san:
            f.write("subjectAltName=%s\n" % san)
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "2", "-out", name + ".crt", "-extfile", ext, cwd=d)


@pytest.fixture(scope="module")
def pki():
    # Not under pytest's private tmp tree: Mosquitto started as root reads
    # the files as its own user and must be able to reach them.
    d = tempfile.mkdtemp(prefix="midge-pki-")
    os.chmod(d, 0o755)
    for ca in ("ca", "otherca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                "-subj", "/CN=midge test " + ca, "-days", "2", "-out", ca + ".crt", cwd=d)
    make_cert(d, "server", "ca", "IP:127.0.0.1,DNS:localhost")
    make_cert(d, "wrongname", "ca", "DNS:not-this-host.example")
    make_cert(d, "client", "ca", None, client=True)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tls_broker(kind, workdir, pki, cert="server", require_client=False):
    """midge or Mosquitto with one TLS listener (the same configuration
    lines for both)."""
    os.chmod(workdir, 0o755)
    port = free_port()
    conf = ("listener %d 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s\n"
            "keyfile %s\n" % (port, os.path.join(pki, "ca.crt"),
                               os.path.join(pki, cert + ".crt"),
                               os.path.join(pki, cert + ".key")))
    if require_client:
        conf += "require_certificate true\n"
    if kind == "midge":
        return start_midge(workdir, config=conf.replace("{", "{{").replace("}", "}}"),
                           port=port)
    path = os.path.join(workdir, "mosquitto.conf")
    with open(path, "w") as f:
        f.write(conf)
    from conftest import Broker
    return Broker(["/usr/sbin/mosquitto", "-c", path], port, "mosquitto", workdir,
                  check_exit=False).start()


def stop_broker(b):
    rc = b.stop()
    if b.name == "midge":
        b.check_clean(rc)


@pytest.mark.parametrize("broker_kind", ["midge", "mosquitto"])
def test_tls_server_only(workdir, pki, broker_kind):
    b = tls_broker(broker_kind, workdir, pki)
    try:
        ca = os.path.join(pki, "ca.crt")
        assert_ok("selfpub", b.port, cafile=ca)
        assert_ok("selfpub", b.port, cafile=ca, v=5, tlsver="tlsv1.3")
        assert_ok("selfpub", b.port, cafile=ca, host="localhost", tlsver="tlsv1.2")
        # The CA found through a hashed directory instead of a file.
        capath = os.path.join(workdir, "capath")
        os.mkdir(capath)
        shutil.copy(ca, capath)
        openssl("rehash", capath, cwd=workdir)
        assert_ok("selfpub", b.port, capath=capath)
        # A CA that did not sign the server's certificate.
        rc, out, _ = check("fail", b.port, cafile=os.path.join(pki, "otherca.crt"))
        assert "ERROR TLS error" in out and "certificate verify failed" in out, out
    finally:
        stop_broker(b)


@pytest.mark.parametrize("broker_kind", ["midge", "mosquitto"])
def test_tls_hostname_verification_and_insecure(workdir, pki, broker_kind):
    b = tls_broker(broker_kind, workdir, pki, cert="wrongname")
    try:
        ca = os.path.join(pki, "ca.crt")
        rc, out, _ = check("fail", b.port, cafile=ca)
        assert "ERROR TLS error" in out and "mismatch" in out, out
        assert_ok("selfpub", b.port, cafile=ca, insecure=1)
    finally:
        stop_broker(b)


@pytest.mark.parametrize("broker_kind", ["midge", "mosquitto"])
def test_tls_mutual(workdir, pki, broker_kind):
    b = tls_broker(broker_kind, workdir, pki, require_client=True)
    try:
        ca = os.path.join(pki, "ca.crt")
        assert_ok("selfpub", b.port, cafile=ca, cert=os.path.join(pki, "client.crt"),
                  key=os.path.join(pki, "client.key"))
        rc, out, _ = check("fail", b.port, cafile=ca)
        assert "ERROR" in out and "OK" not in out, out
    finally:
        stop_broker(b)


def test_tls_alpn_is_offered(pki):
    port = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-naccept", "2",
                            "-cert", os.path.join(pki, "server.crt"),
                            "-key", os.path.join(pki, "server.key"), "-alpn", "mqtt"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        from conftest import wait_for_port
        wait_for_port(port, proc=srv)  # takes the first of the two accepts
        client = subprocess.Popen([midge_binary("midge_client_check"), "fail", str(port),
                                   "cafile=" + os.path.join(pki, "ca.crt"), "alpn=mqtt"],
                                  stdout=subprocess.PIPE)
        seen = read_line(srv, "ALPN protocols advertised by the client", timeout=15)
        assert "mqtt" in seen, seen
        srv.kill()
        srv.wait()
        out = client.communicate(timeout=30)[0].decode()
        assert "ERROR" in out, out  # the server went away without CONNACK
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


# ---- fake brokers ----

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_packet(s):
    """Returns (first byte, body) of the next packet, or None at EOF."""
    try:
        first = recv_exact(s, 1)[0]
        mult, length = 1, 0
        while True:
            b = recv_exact(s, 1)[0]
            length += (b & 127) * mult
            mult *= 128
            if not b & 128:
                break
        return first, recv_exact(s, length)
    except (EOFError, ConnectionResetError):
        return None


class FakeBroker:
    """Accepts connections one after the other; `script(conn, n)` plays
    connection n. Errors are kept for the test to raise."""

    def __init__(self, script, connections=1):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(20)
        self.port = self.srv.getsockname()[1]
        self.script = script
        self.connections = connections
        self.error = None
        self.notes = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for n in range(self.connections):
                conn, _ = self.srv.accept()
                conn.settimeout(15)
                with conn:
                    self.script(self, conn, n)
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.error = e

    def finish(self):
        self.thread.join(30)
        self.srv.close()
        if self.error:
            raise self.error


def connack(session_present=False, v5=False):
    body = bytes([1 if session_present else 0, 0]) + (b"\x00" if v5 else b"")
    return bytes([0x20, len(body)]) + body


MALFORMED = {
    # PUBLISH whose topic length runs past the end of the packet.
    "topic_past_end": b"\x30\x05\x00\x10ab\x00",
    # Remaining length of five bytes.
    "varint_too_long": b"\x30\xff\xff\xff\xff\x7f",
    # Packet type 0 is reserved.
    "reserved_type": b"\x00\x00",
    # PUBACK with reserved flags set.
    "ack_flags": b"\x41\x02\x00\x01",
    # SUBSCRIBE is never sent by a server.
    "server_subscribe": b"\x82\x06\x00\x01\x00\x01a\x00",
    # Invalid UTF-8 in a topic.
    "bad_utf8": b"\x30\x05\x00\x02\xc3\x28x",
}


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_packet_is_reported_and_connection_dropped(name, version):
    def script(fb, conn, n):
        pkt = read_packet(conn)
        assert pkt and pkt[0] >> 4 == 1, "no CONNECT"
        conn.sendall(connack(v5=version == 5) + MALFORMED[name])
        # The client must close; in MQTT 5 it says why first.
        rest = b""
        while True:
            try:
                chunk = conn.recv(4096)
            except socket.timeout:
                raise AssertionError("client did not close the connection")
            if not chunk:
                break
            rest += chunk
        fb.notes.append(rest)

    fb = FakeBroker(script)
    rc, out, err = check("fail", fb.port, v=version)
    fb.finish()
    assert rc == 0, out + err
    assert ("ERROR malformed packet from the server" in out or
            "ERROR protocol error from the server" in out), out
    if version == 5:
        assert fb.notes[0][:1] == b"\xe0", fb.notes  # DISCONNECT with a reason
        assert fb.notes[0][2] >= 0x80, fb.notes


def test_oversized_packet_refused_before_its_body():
    def script(fb, conn, n):
        read_packet(conn)
        # Announces a 10 MB PUBLISH, sends 1 KB of it, then waits.
        conn.sendall(connack() + b"\x30\x80\x80\x80\x05" + b"\x00\x01a" + b"x" * 1021)
        t0 = time.monotonic()
        while conn.recv(4096):
            pass
        fb.notes.append(time.monotonic() - t0)

    fb = FakeBroker(script)
    rc, out, err = check("fail", fb.port, maxpkt=4096)
    fb.finish()
    assert "ERROR packet larger than the maximum packet size" in out, out
    assert "exceeds the maximum packet size 4096" in out, out
    assert fb.notes[0] < 5


def test_keepalive_timeout_drops_silent_server():
    def script(fb, conn, n):
        read_packet(conn)
        conn.sendall(connack())
        got = []
        while True:
            p = read_packet(conn)
            if p is None:
                break
            got.append(p[0] >> 4)
        fb.notes.append(got)

    fb = FakeBroker(script)
    rc, out, err = check("fail", fb.port, ka=1)
    fb.finish()
    assert "ERROR no answer from the server within the keep alive" in out, out
    assert 12 in fb.notes[0], fb.notes  # it did send PINGREQ


@pytest.mark.parametrize("version", [4, 5])
def test_inflight_resent_with_dup_after_reconnect(version):
    """Connection 0 takes a QoS 1 and a QoS 2 PUBLISH and drops without
    acknowledging; connection 1 (session present) must see both again with
    DUP set and the same packet ids, answers PUBACK and PUBREC, and drops
    before PUBCOMP; connection 2 must see the PUBREL again."""
    seen = {}
    v5 = version == 5

    def ack(t, pid):
        return bytes([t << 4 | (2 if t == 6 else 0), 2]) + struct.pack(">H", pid)

    def publish_id(body):
        tlen = struct.unpack(">H", body[:2])[0]
        return struct.unpack(">H", body[2 + tlen:4 + tlen])[0]

    def script(fb, conn, n):
        first, body = read_packet(conn)
        assert first >> 4 == 1
        conn.sendall(connack(session_present=n > 0, v5=v5))
        if n == 0:
            pubs = [read_packet(conn), read_packet(conn)]
            assert [p[0] & 0x0E for p in pubs] == [0x02, 0x04], pubs
            assert not any(p[0] & 0x08 for p in pubs)
            seen["ids"] = [publish_id(p[1]) for p in pubs]
            return
        if n == 1:
            pubs = [read_packet(conn), read_packet(conn)]
            assert all(p[0] & 0x08 for p in pubs), "DUP not set: %r" % pubs
            assert [publish_id(p[1]) for p in pubs] == seen["ids"]
            q1, q2 = seen["ids"]
            conn.sendall(ack(4, q1) + ack(5, q2))
            p = read_packet(conn)
            assert p[0] == 0x62 and struct.unpack(">H", p[1][:2])[0] == q2, p
            return
        p = read_packet(conn)
        assert p[0] == 0x62 and struct.unpack(">H", p[1][:2])[0] == seen["ids"][1], p
        conn.sendall(ack(7, seen["ids"][1]))
        p = read_packet(conn)
        assert p and p[0] >> 4 == 14, p  # DISCONNECT
        seen["done"] = True

    fb = FakeBroker(script, connections=3)
    rc, out, err = check("fake", fb.port, v=version)
    fb.finish()
    assert rc == 0 and "OK connects=3" in out, out + err[-2000:]
    assert seen.get("done")


def varint(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (128 if n else 0)])
        if not n:
            return out


def publish(topic, payload, qos=0, pid=0, props=b"", v5=False, dup=False):
    body = struct.pack(">H", len(topic)) + topic
    if qos:
        body += struct.pack(">H", pid)
    if v5:
        body += varint(len(props)) + props
    body += payload
    return bytes([0x30 | qos << 1 | (8 if dup else 0)]) + varint(len(body)) + body


def connack_v5(props):
    body = b"\x00\x00" + varint(len(props)) + props
    return bytes([0x20]) + varint(len(body)) + body


def serve_subscriber(fb, conn, v5, packets):
    """CONNECT, CONNACK, SUBSCRIBE/SUBACK, then sends packets and records
    everything the client sends until it closes."""
    p = read_packet(conn)
    assert p and p[0] >> 4 == 1
    conn.sendall(connack_v5(b"") if v5 else connack())
    p = read_packet(conn)
    assert p and p[0] >> 4 == 8, p
    pid = p[1][:2]
    conn.sendall(b"\x90" + (b"\x04" + pid + b"\x00\x02" if v5 else b"\x03" + pid + b"\x02"))
    for pkt in packets:
        if callable(pkt):
            pkt(conn)
        else:
            conn.sendall(pkt)
    got = []
    while True:
        p = read_packet(conn)
        if p is None:
            break
        got.append(p)
    fb.notes.append(got)


def test_topic_aliases_from_the_server():
    alias1 = b"\x23\x00\x01"
    pkts = [publish(b"a/long/topic", b"one", props=alias1, v5=True),
            publish(b"", b"two", props=alias1, v5=True),
            publish(b"b", b"three", props=alias1, v5=True),
            publish(b"", b"four", props=alias1, v5=True)]
    fb = FakeBroker(lambda fb, c, n: serve_subscriber(fb, c, True, pkts))
    rc, out, err = check("recv", fb.port, v=5, n=4)
    fb.finish()
    assert out.splitlines()[:4] == ["MSG a/long/topic one q0", "MSG a/long/topic two q0",
                                    "MSG b three q0", "MSG b four q0"], out


@pytest.mark.parametrize("alias,why", [(6, b"\x23\x00\x06"), (0, b"\x23\x00\x00"),
                                       ("unset", b"\x23\x00\x02")])
def test_bad_topic_alias_is_a_protocol_error(alias, why):
    topic = b"" if alias == "unset" else b"t"
    pkts = [publish(topic, b"x", props=why, v5=True)]
    fb = FakeBroker(lambda fb, c, n: serve_subscriber(fb, c, True, pkts))
    rc, out, err = check("recv", fb.port, v=5, n=1)
    fb.finish()
    assert "MSG" not in out, out
    assert "ERROR" in out and "alias" in out, out
    sent = fb.notes[0]
    assert sent and sent[-1][0] == 0xE0 and sent[-1][1][0] in (0x81, 0x82, 0x94), sent


@pytest.mark.parametrize("version", [4, 5])
def test_incoming_qos2_duplicate_delivered_once(version):
    v5 = version == 5

    def pubrel(conn):
        time.sleep(0.2)
        conn.sendall(b"\x62\x02\x00\x07")

    pkts = [publish(b"q2", b"once", qos=2, pid=7, v5=v5),
            publish(b"q2", b"once", qos=2, pid=7, v5=v5, dup=True), pubrel,
            publish(b"q1", b"one", qos=1, pid=8, v5=v5)]
    fb = FakeBroker(lambda fb, c, n: serve_subscriber(fb, c, v5, pkts))
    rc, out, err = check("recv", fb.port, v=version, n=3)
    fb.finish()
    msgs = [l for l in out.splitlines() if l.startswith("MSG")]
    assert msgs == ["MSG q2 once q2", "MSG q1 one q1"], out
    types = [p[0] for p in fb.notes[0]]
    # PUBREC for each copy, PUBCOMP for the PUBREL, PUBACK for QoS 1.
    assert types.count(0x50) == 2 and types.count(0x70) == 1 and types.count(0x40) == 1, types


def test_server_disconnect_is_reported_with_its_reason():
    reason = b"\x1f\x00\x07bye now"
    disc = b"\xe0" + varint(2 + len(reason)) + b"\x8b" + varint(len(reason)) + reason
    fb = FakeBroker(lambda fb, c, n: serve_subscriber(fb, c, True, [disc]))
    rc, out, err = check("recv", fb.port, v=5, n=1)
    fb.finish()
    assert "ERROR disconnected by the server: the server sent DISCONNECT: Server shutting down " \
           "(bye now)" in out, out


def test_server_receive_maximum_limits_inflight():
    state = {"max": 0}

    def script(fb, conn, n):
        read_packet(conn)
        conn.sendall(connack_v5(b"\x21\x00\x02"))  # Receive Maximum 2
        pending = []
        acked = 0
        while acked < 6:
            conn.settimeout(0.3)
            try:
                p = read_packet(conn)
            except socket.timeout:
                p = "idle"
            conn.settimeout(15)
            if p == "idle" or p is None:
                assert pending, "client stalled with nothing in flight"
                pid = pending.pop(0)
                conn.sendall(b"\x40\x02" + pid)
                acked += 1
                continue
            assert p[0] >> 4 == 3, p
            tlen = struct.unpack(">H", p[1][:2])[0]
            pending.append(p[1][2 + tlen:4 + tlen])
            state["max"] = max(state["max"], len(pending))
        while read_packet(conn) is not None:
            pass

    fb = FakeBroker(script)
    rc, out, err = check("burst", fb.port, v=5, n=6)
    fb.finish()
    assert "OK 6" in out, out + err[-2000:]
    assert state["max"] == 2, state


def test_server_maximum_packet_size_refuses_big_publish():
    def script(fb, conn, n):
        read_packet(conn)
        conn.sendall(connack_v5(b"\x27\x00\x00\x00\x40"))  # Maximum Packet Size 64
        while True:
            p = read_packet(conn)
            if p is None:
                break
            assert p[0] >> 4 != 3, "a PUBLISH over the limit was sent"

    fb = FakeBroker(script)
    rc, out, err = check("burst", fb.port, v=5, n=1, size=100)
    fb.finish()
    assert "PUBERR packet larger than the maximum packet size" in out and "OK 0" in out, out


def test_receive_maximum_exceeded_by_the_server():
    pkts = [publish(b"q", b"%d" % i, qos=2, pid=10 + i, v5=True) for i in range(3)]
    fb = FakeBroker(lambda fb, c, n: serve_subscriber(fb, c, True, pkts))
    rc, out, err = check("recv", fb.port, v=5, n=3, rxmax=2)
    fb.finish()
    msgs = [l for l in out.splitlines() if l.startswith("MSG")]
    assert len(msgs) == 2, out
    assert "ERROR protocol error from the server" in out and "Receive Maximum" in out, out
    sent = fb.notes[0]
    assert sent[-1][0] == 0xE0 and sent[-1][1][0] == 0x93, sent
