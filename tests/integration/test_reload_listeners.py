"""SIGHUP reloads listeners and TLS certificates without dropping the
connections of listeners that stay (midge only: Mosquitto cannot open or
close listeners, nor reload certificates, on SIGHUP).

Every certificate is made by openssl for the run."""
import os
import queue
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import free_port, start_midge

RELOAD_DONE = ("Configuration reloaded:", "keeping the previous")


def _done_count(b):
    text = b.log_text()
    return sum(text.count(m) for m in RELOAD_DONE)


def hup(b):
    """SIGHUP, then wait (bounded) until the log reports the reload's end;
    the workers have switched by then."""
    before = _done_count(b)
    b.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _done_count(b) > before:
            return b.log_text()
        time.sleep(0.05)
    raise AssertionError("no end of reload in the log:\n" + b.log_text()[-3000:])


def write_conf(workdir, text):
    with open(os.path.join(workdir, "midge.conf"), "w") as f:
        f.write(text + "\nuser root\n")


class Client:
    """A paho client on a loop thread that records messages and a lost
    connection (and does not reconnect)."""

    def __init__(self, port, cid, ca=None, transport="tcp"):
        self.msgs = queue.Queue()
        self.connected = threading.Event()
        self.lost = threading.Event()
        self.c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311, transport=transport)
        if ca:
            self.c.tls_set(ca_certs=ca)
        self.c.on_connect = lambda c, u, f, rc: rc == 0 and self.connected.set()
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = lambda c, u, m: self.msgs.put((m.topic, m.payload))
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def _on_disconnect(self, c, u, rc):
        self.lost.set()
        c.loop_stop()

    def subscribe(self, topic):
        done = threading.Event()
        self.c.on_subscribe = lambda c, u, mid, q: done.set()
        self.c.subscribe(topic, 1)
        assert done.wait(10), "no SUBACK"

    def publish(self, topic, payload):
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish()
        assert info.is_published()

    def expect(self, topic, payload, timeout=10):
        assert self.msgs.get(timeout=timeout) == (topic, payload)

    def close(self):
        if not self.lost.is_set():
            self.c.disconnect()
        self.c.loop_stop()


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def tls_handshake(port, ca):
    """True when a TLS client trusting only `ca` completes the handshake."""
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            with ctx.wrap_socket(s, server_hostname="localhost"):
                return True
        except ssl.SSLError:
            return False


def test_listener_added_removed_and_kept_midge(workdir):
    kept, removed, added, busy = free_port(), free_port(), free_port(), free_port()
    b = start_midge(workdir, port=kept, config=(
        "allow_anonymous true\nlistener {port} 127.0.0.1\nlistener %d 127.0.0.1\n" % removed))
    try:
        sub = Client(kept, "kept-sub")
        sub.subscribe("r/#")
        gone = Client(removed, "on-removed")
        gone.subscribe("r/#")
        Client(removed, "pub-before").publish("r/0", b"before")
        sub.expect("r/0", b"before")
        gone.expect("r/0", b"before")

        # The port of one new listener is taken: that one is skipped, the
        # rest applied.
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", busy))
        blocker.listen(1)
        try:
            write_conf(workdir, "allow_anonymous true\nlistener %d 127.0.0.1\n"
                       "listener %d 127.0.0.1\nlistener %d 127.0.0.1\n" % (kept, added, busy))
            log = hup(b)
        finally:
            blocker.close()
        assert "1 listener kept, 1 opened, 1 closed, 1 failed to open" in log, log[-3000:]
        assert "127.0.0.1:%d" % busy in log

        assert gone.lost.wait(10), "the client of the removed listener is still connected"
        assert refused(removed)
        assert refused(busy)
        pub = Client(added, "on-added")
        pub.publish("r/1", b"after")
        sub.expect("r/1", b"after")
        pub.close()
        sub.close()
        gone.close()
    finally:
        b.check_clean(b.stop())


def test_changed_bind_address_on_the_same_port_midge(workdir):
    """A removed listener closes before new ones open, so a new identity
    on its address (here: the name instead of the number) can bind."""
    b = start_midge(workdir, config="allow_anonymous true\nlistener {port} 127.0.0.1\n")
    try:
        before = Client(b.port, "on-old-identity")
        write_conf(workdir, "allow_anonymous true\nlistener %d localhost\nsocket_domain ipv4\n"
                   % b.port)
        log = hup(b)
        assert "0 listeners kept, 1 opened, 1 closed, 0 failed" in log, log[-3000:]
        assert before.lost.wait(10)
        before.close()
        c = Client(b.port, "rebound")
        c.subscribe("x")
        c.publish("x", b"1")
        c.expect("x", b"1")
        c.close()
    finally:
        b.check_clean(b.stop())


def test_per_listener_settings_change_midge(workdir):
    other = free_port()
    b = start_midge(workdir, config="allow_anonymous true\nlistener {port} 127.0.0.1\n")
    try:
        before = Client(b.port, "anon-before")
        write_conf(workdir, "per_listener_settings true\nlistener %d 127.0.0.1\n"
                   "allow_anonymous false\nlistener %d 127.0.0.1\nallow_anonymous true\n"
                   % (b.port, other))
        log = hup(b)
        assert "1 listener kept, 1 opened" in log, log[-3000:]
        # New logins follow the new settings of their listener.
        c = mqtt.Client(client_id="anon-after", protocol=mqtt.MQTTv311)
        got = threading.Event()
        rcs = []
        c.on_connect = lambda cl, u, f, rc: (rcs.append(rc), got.set())
        c.connect("127.0.0.1", b.port)
        c.loop_start()
        assert got.wait(10)
        c.loop_stop()
        c.disconnect()
        assert rcs == [5]
        ok = Client(other, "anon-other")
        # The client logged in before stays connected and served.
        before.subscribe("p/#")
        ok.publish("p/1", b"x")
        before.expect("p/1", b"x")
        ok.close()
        before.close()
    finally:
        b.check_clean(b.stop())


def _openssl(d, *args):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True, timeout=60)


def _make_ca_and_server(d, prefix):
    """{prefix}ca.pem and a server certificate for localhost/127.0.0.1
    signed by it ({prefix}server.pem, {prefix}server.key)."""
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", prefix + "ca.key", "-out", prefix + "ca.pem", "-days", "2",
             "-subj", "/CN=midge reload test CA " + prefix)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", prefix + "server.key", "-out", prefix + "server.csr", "-subj",
             "/CN=localhost")
    _openssl(d, "x509", "-req", "-in", prefix + "server.csr", "-CA", prefix + "ca.pem",
             "-CAkey", prefix + "ca.key", "-CAcreateserial", "-out", prefix + "server.pem",
             "-days", "2", "-extfile", "server.ext")


@pytest.fixture(scope="module")
def pki():
    with tempfile.TemporaryDirectory(prefix="midge-reload-") as d:
        _make_ca_and_server(d, "old-")
        _make_ca_and_server(d, "new-")
        yield d


def _install(workdir, pki, prefix):
    """Copies a server certificate and key to the paths the config names
    (replacing them in place, as a certificate renewal does)."""
    for src, dst in ((prefix + "server.pem", "server.pem"), (prefix + "server.key", "server.key")):
        with open(os.path.join(pki, src), "rb") as f:
            data = f.read()
        with open(os.path.join(workdir, dst), "wb") as f:
            f.write(data)


def _tls_conf(workdir, port, plain):
    return ("allow_anonymous true\nlistener %d 127.0.0.1\n"
            "listener %d 127.0.0.1\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
            % (plain, port, workdir, workdir))


def test_tls_certificate_replaced_midge(workdir, pki):
    plain = free_port()
    _install(workdir, pki, "old-")
    old_ca, new_ca = os.path.join(pki, "old-ca.pem"), os.path.join(pki, "new-ca.pem")
    conf = _tls_conf(workdir, 0, plain).replace("listener 0 ", "listener {port} ")
    b = start_midge(workdir, config=conf)
    try:
        assert tls_handshake(b.port, old_ca)
        assert not tls_handshake(b.port, new_ca)
        before = Client(b.port, "tls-before", ca=old_ca)
        before.subscribe("t/#")

        _install(workdir, pki, "new-")
        log = hup(b)
        assert "2 listeners kept, 0 opened, 0 closed" in log, log[-3000:]
        assert tls_handshake(b.port, new_ca)
        assert not tls_handshake(b.port, old_ca)

        # The TLS client connected before is still connected and served,
        # both ways.
        after = Client(b.port, "tls-after", ca=new_ca)
        after.publish("t/1", b"from the new certificate")
        before.expect("t/1", b"from the new certificate")
        after.subscribe("u/#")
        before.publish("u/1", b"from the old session")
        after.expect("u/1", b"from the old session")
        assert not before.lost.is_set()
        after.close()
        before.close()
    finally:
        b.check_clean(b.stop())


def test_broken_files_keep_the_old_configuration_midge(workdir, pki):
    plain, extra = free_port(), free_port()
    _install(workdir, pki, "old-")
    old_ca = os.path.join(pki, "old-ca.pem")
    conf = _tls_conf(workdir, 0, plain).replace("listener 0 ", "listener {port} ")
    b = start_midge(workdir, config=conf)
    try:
        c = Client(plain, "stays")
        c.subscribe("k/#")

        # A broken line: the file and line are named, nothing changes (the
        # listener added in the same file is not opened).
        good = _tls_conf(workdir, b.port, plain)
        write_conf(workdir, good + "listener %d 127.0.0.1\nmax_connections lots\n" % extra)
        log = hup(b)
        assert "midge.conf:7: " in log and "keeping the previous configuration" in log, \
            log[-3000:]
        assert refused(extra)

        # A broken certificate: its file is named, the old one still used.
        write_conf(workdir, good + "listener %d 127.0.0.1\n" % extra)
        with open(os.path.join(workdir, "server.pem"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
        log = hup(b)
        assert "server.pem" in log and log.count("keeping the previous configuration") == 2, \
            log[-3000:]
        assert refused(extra)
        assert tls_handshake(b.port, old_ca)

        # A key that does not match the certificate.
        _install(workdir, pki, "old-")
        with open(os.path.join(pki, "new-server.key"), "rb") as f:
            key = f.read()
        with open(os.path.join(workdir, "server.key"), "wb") as f:
            f.write(key)
        log = hup(b)
        assert log.count("keeping the previous configuration") == 3, log[-3000:]
        assert tls_handshake(b.port, old_ca)

        # Fixed: the reload applies.
        _install(workdir, pki, "old-")
        log = hup(b)
        assert "2 listeners kept, 1 opened, 0 closed" in log, log[-3000:]
        p = Client(extra, "on-extra")
        p.publish("k/1", b"x")
        c.expect("k/1", b"x")
        assert tls_handshake(b.port, old_ca)
        p.close()
        c.close()
    finally:
        b.check_clean(b.stop())


def test_repeated_reloads_midge(workdir, pki):
    """Many reloads with TLS listeners coming and going while a client
    stays: no leak (the ASan build checks at exit), nothing dropped."""
    plain, tls_port = free_port(), free_port()
    _install(workdir, pki, "old-")
    b = start_midge(workdir, port=plain,
                    config="allow_anonymous true\nlistener {port} 127.0.0.1\n")
    try:
        c = Client(plain, "steady")
        c.subscribe("s/#")
        for i in range(6):
            if i % 2 == 0:
                write_conf(workdir, _tls_conf(workdir, tls_port, plain))
            else:
                write_conf(workdir, "allow_anonymous true\nlistener %d 127.0.0.1\n" % plain)
            hup(b)
            if i % 2 == 0:
                assert tls_handshake(tls_port, os.path.join(pki, "old-ca.pem"))
            else:
                assert refused(tls_port)
            p = Client(plain, "p%d" % i)
            p.publish("s/%d" % i, b"m")
            c.expect("s/%d" % i, b"m")
            p.close()
        assert not c.lost.is_set()
        c.close()
    finally:
        b.check_clean(b.stop())


def _low_free_port():
    """A free port below 1024 (needs root to bind), or None."""
    for port in range(1010, 1024):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return None


def test_privileged_port_after_dropping_root_midge(workdir):
    """After `user` gave up root a new listener below 1024 cannot be
    bound: that one is logged and skipped, the others are applied."""
    low = _low_free_port()
    try:
        unprivileged_start = int(open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read())
    except OSError:
        unprivileged_start = 1024
    if os.geteuid() != 0 or low is None or low >= unprivileged_start:
        pytest.skip("needs root and a port below ip_unprivileged_port_start")
    added = free_port()
    os.chmod(workdir, 0o755)  # the reload reads the file as nobody
    b = start_midge(workdir, config="allow_anonymous true\nlistener {port} 127.0.0.1\n"
                    "user nobody\n")
    try:
        c = Client(b.port, "stays")
        c.subscribe("n/#")
        with open(os.path.join(workdir, "midge.conf"), "w") as f:
            f.write("allow_anonymous true\nuser nobody\nlistener %d 127.0.0.1\n"
                    "listener %d 127.0.0.1\nlistener %d 127.0.0.1\n" % (b.port, low, added))
        log = hup(b)
        assert "1 listener kept, 1 opened, 0 closed, 1 failed to open" in log, log[-3000:]
        assert "127.0.0.1:%d: Permission denied" % low in log
        assert refused(low)
        p = Client(added, "on-added")
        p.publish("n/1", b"x")
        c.expect("n/1", b"x")
        p.close()
        c.close()
    finally:
        b.check_clean(b.stop())


def test_websockets_listener_added_and_removed_midge(workdir):
    """A websockets listener on the port of a plain one: another identity,
    so the plain one closes and the websockets one opens in one reload,
    and back."""
    plain, ws = free_port(), free_port()
    b = start_midge(workdir, port=plain, config=(
        "allow_anonymous true\nlistener {port} 127.0.0.1\nlistener %d 127.0.0.1\n" % ws))
    try:
        sub = Client(plain, "sub")
        sub.subscribe("w/#")
        on_ws_port = Client(ws, "mqtt-on-ws-port")
        write_conf(workdir, "allow_anonymous true\nlistener %d 127.0.0.1\n"
                   "listener %d 127.0.0.1\nprotocol websockets\n" % (plain, ws))
        log = hup(b)
        assert "1 listener kept, 1 opened, 1 closed, 0 failed" in log, log[-3000:]
        assert on_ws_port.lost.wait(10)
        w = Client(ws, "ws-client", transport="websockets")
        w.publish("w/1", b"over websockets")
        sub.expect("w/1", b"over websockets")

        write_conf(workdir, "allow_anonymous true\nlistener %d 127.0.0.1\n" % plain)
        log = hup(b)
        assert "1 listener kept, 0 opened, 1 closed, 0 failed" in log, log[-3000:]
        assert w.lost.wait(10)
        assert refused(ws)
        sub.c.publish("w/2", b"still here", qos=1).wait_for_publish()
        sub.expect("w/2", b"still here")
        w.close()
        on_ws_port.close()
        sub.close()
    finally:
        b.check_clean(b.stop())
