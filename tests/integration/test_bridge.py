"""Bridges (`connection` sections): a local midge bridging to a remote
broker, Debian's Mosquitto or another midge, over plain TCP and TLS.

Covered: `out` with prefixes, `in` with prefixes, `both` without loops
(one publish arrives once on each side, MQTT 3.1.1 with try_private and
MQTT 5 with No Local), QoS 1 across the bridge in order, local retained
messages sent on connect, remote credentials (a Mosquitto password file),
the remote going away and coming back (notification 1, 0, 1 and the will
on the remote), SIGHUP leaving bridges alone, and TLS to the remote.
Every midge is stopped with SIGTERM and checked clean (ASan, exit 0)."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import free_port, start_midge, start_mosquitto
from paho.mqtt.packettypes import PacketTypes

from peers import V5, V311, Paho, props

REMOTES = ["mosquitto", "midge"]
STATE = "bridge/state"


def subdir(workdir, name):
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    return d


def start_remote(kind, workdir, config="", port=None, name="remote"):
    d = subdir(workdir, name)
    if kind == "mosquitto":
        os.chmod(workdir, 0o755)
        return start_mosquitto(d, extra_config=config, port=port)
    return start_midge(d, port=port,
                       config="listener {port} 127.0.0.1\nallow_anonymous true\n" +
                       config.replace("{", "{{").replace("}", "}}"))


def start_local(workdir, remote_port, bridge, name="b", address=None, dirname="local"):
    """A midge with one bridge `name` to 127.0.0.1:remote_port (or the
    `address` line's value); `bridge` holds the bridge's own lines."""
    address = address or "127.0.0.1:%d" % remote_port
    conf = ("listener {port} 127.0.0.1\nallow_anonymous true\n"
            "connection %s\naddress %s\nnotification_topic %s\n"
            "restart_timeout 1\n" % (name, address, STATE)) + bridge
    return start_midge(subdir(workdir, dirname), config=conf)


def wait_state(client, want, timeout=10.0):
    """Reads notification messages until the payload `want` arrives."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            m = client.get(max(0.05, deadline - time.monotonic()))
        except AssertionError:
            break
        if m.topic == STATE:
            seen.append(m.payload)
            if m.payload == want:
                return seen
    raise AssertionError("bridge state %r not seen (saw %r)" % (want, seen))


def connected_bridge(local):
    """Waits until the local broker says the bridge is up."""
    w = Paho(local)
    w.subscribe(STATE, 1)
    wait_state(w, b"1")
    w.disconnect()


def stop_checked(b):
    rc = b.stop()
    b.check_clean(rc)


@pytest.fixture
def brokers(workdir):
    """Starts (remote, local) pairs; stops them all, midge checked clean."""
    started = []

    def start(kind, bridge, remote_config=""):
        remote = start_remote(kind, workdir, remote_config)
        started.append(remote)
        local = start_local(workdir, remote.port, bridge)
        started.append(local)
        connected_bridge(local)
        return remote, local

    yield start
    for b in reversed(started):
        if b.proc is None:
            continue
        rc = b.stop()
        if b.name == "midge":
            b.check_clean(rc)


@pytest.mark.parametrize("kind", REMOTES)
def test_out_with_prefixes(brokers, kind):
    remote, local = brokers(kind, "topic sensors/# out 1 pi/ cloud/pi/\n")
    sub = Paho(remote)
    sub.subscribe("#", 1)
    pub = Paho(local)
    pub.publish("pi/sensors/temp", b"21.5", qos=1)
    pub.publish("sensors/temp", b"not under the local prefix", qos=1)
    pub.publish("pi/other", b"not a bridged topic", qos=1)
    m = sub.get()
    while m.topic.startswith("$SYS") or m.topic == STATE:
        m = sub.get()
    assert (m.topic, m.payload) == ("cloud/pi/sensors/temp", b"21.5")
    pub.publish("pi/sensors", b"the level itself", qos=1)
    m = sub.get()
    assert (m.topic, m.payload) == ("cloud/pi/sensors", b"the level itself")
    sub.none(0.5)


@pytest.mark.parametrize("kind", REMOTES)
def test_in_with_prefixes(brokers, kind):
    remote, local = brokers(kind, "topic cmd/# in 1 pi/ cloud/pi/\n")
    sub = Paho(local)
    sub.subscribe("pi/#", 1)
    pub = Paho(remote)
    # The remote subscription may land just after the notification.
    deadline = time.monotonic() + 10
    while True:
        pub.publish("cloud/pi/cmd/led", b"on", qos=1)
        try:
            m = sub.get(0.5)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "nothing came in over the bridge"
    assert (m.topic, m.payload) == ("pi/cmd/led", b"on")
    assert m.qos == 1
    pub.publish("cloud/other", b"x", qos=1)
    pub.publish("cmd/led", b"not under the remote prefix", qos=1)
    sub.none(0.5)


def settle_both(remote_sub, local_sub, pub, topic):
    """Publishes until the bridge's remote subscription is active, then
    drains what those probes produced on both sides."""
    deadline = time.monotonic() + 10
    while True:
        pub.publish(topic, b"probe", qos=1)
        try:
            remote_sub.get(0.5)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "bridge never forwarded the probe"
    time.sleep(1.0)
    for s in (remote_sub, local_sub):
        while not s.messages.empty():
            s.messages.get_nowait()


@pytest.mark.parametrize("version", ["mqttv311", "mqttv50"])
@pytest.mark.parametrize("kind", REMOTES)
def test_both_without_loops(brokers, kind, version):
    remote, local = brokers(kind, "topic chat/# both 1\nbridge_protocol_version %s\n" % version)
    rsub = Paho(remote)
    rsub.subscribe("chat/#", 1)
    lsub = Paho(local)
    lsub.subscribe("chat/#", 1)
    lpub = Paho(local)
    rpub = Paho(remote)
    settle_both(lsub, rsub, rpub, "chat/probe")
    lpub.publish("chat/from-local", b"L", qos=1)
    rpub.publish("chat/from-remote", b"R", qos=1)
    time.sleep(1.5)  # any echo or loop would have arrived by now
    for side in (lsub, rsub):
        got = []
        while not side.messages.empty():
            m = side.messages.get_nowait()
            got.append((m.topic, m.payload))
        assert sorted(got) == [("chat/from-local", b"L"), ("chat/from-remote", b"R")], got


@pytest.mark.parametrize("kind", REMOTES)
def test_qos1_in_order(brokers, kind):
    remote, local = brokers(kind, "topic data/# out 1\n")
    sub = Paho(remote)
    sub.subscribe("data/#", 1)
    pub = Paho(local)
    n = 200
    for i in range(n):
        pub.publish("data/x", str(i).encode(), qos=1, wait=False)
    got = sub.get_n(n, timeout=20)
    assert [m.payload for m in got] == [str(i).encode() for i in range(n)]
    assert all(m.qos == 1 for m in got)


@pytest.mark.parametrize("kind", REMOTES)
def test_local_retained_sent_on_connect(workdir, kind):
    """A retained message published while the remote is down reaches it,
    retained, when the bridge connects."""
    remote = start_remote(kind, workdir)
    port = remote.port
    rc = remote.stop()
    if kind == "midge":
        remote.check_clean(rc)
    local = start_local(workdir, port, "topic state/# out 1\n")
    try:
        p = Paho(local)
        p.publish("state/door", b"closed", qos=1, retain=True)
        p.disconnect()
        remote = start_remote(kind, workdir, port=port)
        connected_bridge(local)
        sub = Paho(remote)
        sub.subscribe("state/#", 1)
        m = sub.get(10)
        assert (m.topic, m.payload, m.retain) == ("state/door", b"closed", True)
    finally:
        stop_checked(local)
        rc = remote.stop()
        if remote.name == "midge":
            remote.check_clean(rc)


def test_remote_credentials(workdir):
    d = subdir(workdir, "remote")
    os.chmod(workdir, 0o755)
    pw = os.path.join(d, "passwords")
    subprocess.run(["mosquitto_passwd", "-c", "-b", pw, "bridge-user", "bridge pass"],
                   check=True, timeout=30, capture_output=True)
    os.chmod(pw, 0o644)
    remote = start_mosquitto(d, "password_file %s\nallow_anonymous false\n" % pw)
    local = bad = None
    try:
        local = start_local(workdir, remote.port,
                            "topic t/# out 1\nremote_username bridge-user\n"
                            "remote_password bridge pass\n")
        connected_bridge(local)
        sub = Paho(remote, connect=False)
        sub.c.username_pw_set("bridge-user", "bridge pass")
        sub.connect()
        sub.subscribe("t/#", 1)
        Paho(local).publish("t/1", b"authenticated", qos=1)
        m = sub.get()
        assert (m.topic, m.payload) == ("t/1", b"authenticated")
        # A wrong password: the bridge stays down and says so, locally.
        bad = start_midge(subdir(workdir, "bad"), config=(
            "listener {port} 127.0.0.1\nallow_anonymous true\nconnection wrong\n"
            "address 127.0.0.1:%d\nnotification_topic %s\nrestart_timeout 1\n"
            "topic t/# out 1\nremote_username bridge-user\nremote_password nope\n"
            % (remote.port, STATE)))
        w = Paho(bad)
        w.subscribe(STATE, 1)
        assert wait_state(w, b"0")[-1] == b"0"
        w.none(2.5)  # several refused attempts, never "1"
        assert "connection refused" in bad.log_text()
    finally:
        for b in (bad, local):
            if b is not None:
                stop_checked(b)
        remote.stop()


@pytest.mark.parametrize("kind", REMOTES)
def test_remote_restart(brokers, workdir, kind):
    remote, local = brokers(kind, "topic up/# out 1\ntopic down/# in 1\n")
    watch = Paho(local)
    watch.subscribe(STATE, 1)
    wait_state(watch, b"1")  # the retained state
    port = remote.port
    rc = remote.stop()
    if kind == "midge":
        remote.check_clean(rc)
    wait_state(watch, b"0")
    remote2 = start_remote(kind, workdir, port=port)
    try:
        wait_state(watch, b"1", timeout=15)
        rsub = Paho(remote2)
        rsub.subscribe("up/#", 1)
        lpub = Paho(local)
        lpub.publish("up/again", b"1", qos=1)
        m = rsub.get()
        assert (m.topic, m.payload) == ("up/again", b"1")
        # The remote has the state too, retained, and the will says 0
        # when the local broker dies without a goodbye.
        rstate = Paho(remote2)
        rstate.subscribe(STATE, 1)
        assert wait_state(rstate, b"1")
        local.kill9()
        wait_state(rstate, b"0", timeout=10)
    finally:
        rc = remote2.stop()
        if kind == "midge":
            remote2.check_clean(rc)


def test_default_notification_topic_and_sighup(workdir):
    remote = start_remote("mosquitto", workdir)
    conf = ("listener {port} 127.0.0.1\nallow_anonymous true\n"
            "connection cloud\naddress 127.0.0.1:%d\ntopic a/# both 0\n" % remote.port)
    local = start_midge(subdir(workdir, "local"), config=conf)
    try:
        topic = "$SYS/broker/connection/%s.cloud/state" % socket.gethostname()
        w = Paho(local)
        w.subscribe(topic, 1)
        deadline = time.monotonic() + 10
        while True:
            m = w.get(max(0.1, deadline - time.monotonic()))
            if m.payload == b"1":
                break
        assert m.topic == topic and m.retain
        # SIGHUP reloads the rest; the bridge stays as it was.
        local.proc.send_signal(signal.SIGHUP)
        rsub = Paho(remote)
        rsub.subscribe("a/#", 0)
        lpub = Paho(local)
        deadline = time.monotonic() + 10
        while True:
            lpub.publish("a/b", b"after hup", qos=1)
            try:
                m = rsub.get(0.5)
                break
            except AssertionError:
                assert time.monotonic() < deadline
        assert (m.topic, m.payload) == ("a/b", b"after hup")
        assert local.proc.poll() is None
    finally:
        stop_checked(local)
        remote.stop()


@pytest.mark.parametrize("kind", REMOTES)
def test_v5_properties_cross(brokers, kind):
    """An MQTT 5 bridge carries user properties, content type, response
    topic, correlation data, payload format and the remaining expiry, both
    ways; a 3.1.1 bridge cannot."""
    remote, local = brokers(kind, "topic p/# both 1\nbridge_protocol_version mqttv50\n")
    rsub = Paho(remote, version=V5)
    rsub.subscribe("p/#", 1)
    lsub = Paho(local, version=V5)
    lsub.subscribe("p/#", 1)
    rpub = Paho(remote, version=V5)
    settle_both(lsub, rsub, rpub, "p/probe")
    pp = props(PacketTypes.PUBLISH, UserProperty=[("unit", "C"), ("unit", "K")],
               ContentType="text/plain", ResponseTopic="p/reply", CorrelationData=b"\x00\x01",
               PayloadFormatIndicator=1, MessageExpiryInterval=600)
    for pub, sub, topic in ((Paho(local, version=V5), rsub, "p/out"), (rpub, lsub, "p/in")):
        pub.publish(topic, b"21", qos=1, properties=pp)
        m = sub.get()
        while m.topic != topic:  # the local subscriber saw p/out as well
            m = sub.get()
        got = m.properties
        assert got.UserProperty == [("unit", "C"), ("unit", "K")]
        assert got.ContentType == "text/plain"
        assert got.ResponseTopic == "p/reply"
        assert got.CorrelationData == b"\x00\x01"
        assert got.PayloadFormatIndicator == 1
        assert 590 <= got.MessageExpiryInterval <= 600


def test_queue_bounded_while_remote_down(workdir):
    """QoS 1 messages for a remote that is down wait, in order, up to
    max_queued_messages (in libmidge's queue, plus as many in transit);
    the rest are dropped rather than held without bound."""
    port = free_port()
    conf = ("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10\n"
            "connection b\naddress 127.0.0.1:%d\nnotification_topic %s\n"
            "restart_timeout 3\ntopic q/# out 1\n" % (port, STATE))
    local = start_midge(subdir(workdir, "local"), config=conf)
    remote = None
    try:
        pub = Paho(local)
        for i in range(50):
            pub.publish("q/x", str(i).encode(), qos=1)
        remote = start_remote("mosquitto", workdir, port=port)
        sub = Paho(remote)
        sub.subscribe("q/#", 1)
        connected_bridge(local)
        got = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                got.append(int(sub.get(1.0).payload))
            except AssertionError:
                break
        assert 10 <= len(got) <= 20, got
        assert got == sorted(got) and got[:10] == list(range(10)), got
    finally:
        stop_all(local, remote)


def stop_all(*brokers):
    for b in brokers:
        if b is None or b.proc is None:
            continue
        rc = b.stop()
        if b.name == "midge":
            b.check_clean(rc)


def test_start_type_once(workdir):
    """`once`: one attempt, never again, even when the remote comes up."""
    port = free_port()
    local = start_local(workdir, port, "topic a/# out\nstart_type once\n")
    remote = None
    try:
        w = Paho(local)
        w.subscribe(STATE, 1)
        wait_state(w, b"0")
        remote = start_remote("mosquitto", workdir, port=port)
        w.none(3.0)  # restart_timeout 1 would have connected by now
        assert "not reconnecting" in local.log_text()
    finally:
        stop_all(local, remote)


@pytest.mark.parametrize("kind", REMOTES)
def test_primary_address_preferred(workdir, kind):
    """round_robin false (the default): connected to the second address,
    the bridge moves back to the first one once it answers again."""
    primary = free_port()
    second = start_remote(kind, workdir, name="second")
    local = first = None
    try:
        local = start_local(workdir, 0, "topic a/# out 1\n",
                            address="127.0.0.1:%d 127.0.0.1:%d" % (primary, second.port))
        w = Paho(local)
        w.subscribe(STATE, 1)
        wait_state(w, b"1", timeout=15)
        s2 = Paho(second)
        s2.subscribe("a/#", 1)
        lpub = Paho(local)
        lpub.publish("a/1", b"to the second", qos=1)
        assert s2.get().payload == b"to the second"
        first = start_remote(kind, workdir, port=primary, name="first")
        wait_state(w, b"0", timeout=15)
        wait_state(w, b"1", timeout=15)
        s1 = Paho(first)
        s1.subscribe("a/#", 1)
        lpub.publish("a/2", b"to the primary", qos=1)
        assert s1.get().payload == b"to the primary"
        s2.none(0.5)
    finally:
        stop_all(local, first, second)


def sub_count(broker, want, timeout=10.0):
    w = Paho(broker)
    w.subscribe("$SYS/broker/subscriptions/count", 0)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = w.get(max(0.1, deadline - time.monotonic())).payload
        except AssertionError:
            break
        if last == want:
            w.disconnect()
            return
    raise AssertionError("subscription count %r, want %r" % (last, want))


@pytest.mark.parametrize("attempt", [True, False])
@pytest.mark.parametrize("kind", REMOTES)
def test_attempt_unsubscribe(workdir, kind, attempt):
    """A topic that was `in` (persistent session on the remote) and is now
    `out` is unsubscribed on the remote unless bridge_attempt_unsubscribe
    is false."""
    remote = start_remote(kind, workdir, config="sys_interval 1\n")
    local = None
    try:
        local = start_local(workdir, remote.port,
                            "remote_clientid pi\ncleansession false\ntopic x/# in 1\n"
                            "notifications false\n")
        sub_count(remote, b"2")  # the bridge's x/# and the watcher's own
        stop_all(local)
        local = start_local(workdir, remote.port,
                            "remote_clientid pi\ncleansession false\ntopic x/# out 1\n"
                            "notifications false\nbridge_attempt_unsubscribe %s\n"
                            % ("true" if attempt else "false"), dirname="local2")
        deadline = time.monotonic() + 10
        while "connected to" not in local.log_text():
            assert time.monotonic() < deadline, "bridge never connected"
            time.sleep(0.1)
        sub_count(remote, b"1" if attempt else b"2")
    finally:
        stop_all(local, remote)


# ---- TLS to the remote ----

def openssl(d, *args):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def pki():
    with tempfile.TemporaryDirectory(prefix="midge-bridge-tls-") as d:
        os.chmod(d, 0o755)
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "2", "-subj", "/CN=bridge test CA")
        for name, cn, ext in (
                ("server", "localhost",
                 "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"),
                ("nameless", "elsewhere",
                 "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:elsewhere.example\n"),
                ("client", "pi", "extendedKeyUsage=clientAuth\n")):
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write("basicConstraints=CA:FALSE\n" + ext)
            openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                    name + ".csr", "-subj", "/CN=" + cn)
            openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                    name + ".ext")
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        yield d


def tls_remote(kind, workdir, pki, server="server", require_cert=False):
    port = free_port()
    conf = ("listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/%s.pem\nkeyfile %s/%s.key\n"
            % (port, pki, pki, server, pki, server))
    if require_cert:
        conf += "require_certificate true\n"
    if kind == "mosquitto":
        d = subdir(workdir, "remote")
        os.chmod(workdir, 0o755)
        plain = free_port()
        path = os.path.join(d, "mosquitto.conf")
        with open(path, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n%s" % (plain, conf))
        from conftest import MOSQUITTO, Broker
        b = Broker([MOSQUITTO, "-c", path], plain, "mosquitto", d, check_exit=False).start()
    else:
        b = start_midge(subdir(workdir, "remote"), config=(
            "listener {port} 127.0.0.1\nallow_anonymous true\n" + conf))
    return b, port


@pytest.mark.parametrize("kind", REMOTES)
def test_tls_to_remote(workdir, pki, kind):
    remote, tls_port = tls_remote(kind, workdir, pki, require_cert=True)
    local = start_local(workdir, tls_port,
                        "topic s/# out 1\ntopic c/# in 1\nbridge_cafile %s/ca.pem\n"
                        "bridge_certfile %s/client.pem\nbridge_keyfile %s/client.key\n"
                        "bridge_tls_version tlsv1.2\nbridge_alpn mqtt\n" % (pki, pki, pki))
    try:
        connected_bridge(local)
        rsub = Paho(remote)  # its plain listener
        rsub.subscribe("s/#", 1)
        Paho(local).publish("s/1", b"over tls", qos=1)
        m = rsub.get()
        assert (m.topic, m.payload) == ("s/1", b"over tls")
    finally:
        stop_checked(local)
        rc = remote.stop()
        if kind == "midge":
            remote.check_clean(rc)


def test_tls_checks_the_name(workdir, pki):
    remote, tls_port = tls_remote("mosquitto", workdir, pki, server="nameless")
    local = start_local(workdir, tls_port, "topic s/# out 1\nbridge_cafile %s/ca.pem\n" % pki)
    try:
        w = Paho(local)
        w.subscribe(STATE, 1)
        wait_state(w, b"0")
        w.none(2.5)  # the certificate does not name 127.0.0.1: never up
        stop_checked(local)
        # bridge_insecure skips the name check (the chain still counts).
        local = start_local(workdir, tls_port,
                            "topic s/# out 1\nbridge_cafile %s/ca.pem\nbridge_insecure true\n"
                            % pki)
        connected_bridge(local)
    finally:
        stop_checked(local)
        remote.stop()


def test_bad_tls_file_refuses_to_start(workdir):
    d = subdir(workdir, "local")
    path = os.path.join(d, "midge.conf")
    with open(path, "w") as f:
        f.write("listener %d 127.0.0.1\nconnection b\naddress 127.0.0.1:1\ntopic # out\n"
                "bridge_cafile %s/missing.pem\nuser root\n" % (free_port(), d))
    from conftest import midge_binary
    r = subprocess.run([midge_binary(), "-c", path], capture_output=True, timeout=30)
    assert r.returncode != 0
    assert b"bridge b" in r.stderr and b"TLS" in r.stderr
