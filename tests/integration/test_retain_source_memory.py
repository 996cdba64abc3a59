"""check_retain_source and memory_limit, as Mosquitto 2.0 applies them.

check_retain_source: a retained message goes to a new subscriber only if
its publisher (client id, username, listener) may still write its topic
under the current ACL. The tests change the ACL file and send SIGHUP (or
restart with persistence), as Mosquitto's own CVE-2018-12546 tests do.

memory_limit: once the broker's message memory would pass the limit, a
PUBLISH that does not fit closes its publisher's connection (Mosquitto's
allocator fails and the client is "disconnected due to out of memory");
other clients keep working and publishing works again once memory is
freed.
"""
import os
import signal
import socket
import struct
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import start_midge

ACL_WRITE = """topic read test/#
user alice
topic readwrite test/#
"""
ACL_READ_ONLY = """topic read test/#
user alice
topic read test/#
"""


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def _hup_and_wait(b, count):
    """SIGHUP, then wait (bounded) until the log shows `count` reloads."""
    b.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if b.log_text().count("Reloading config") >= count:
            time.sleep(0.3)  # the new snapshot follows the log line
            return
        time.sleep(0.05)
    raise AssertionError("no reload in the log:\n" + b.log_text()[-2000:])


def _client(b, client_id, username=None, proto=mqtt.MQTTv311):
    c = mqtt.Client(client_id, protocol=proto)
    if username is not None:
        c.username_pw_set(username, "pw")
    got = []
    c.on_message = lambda cl, u, m: got.append((m.topic, m.payload, m.retain))
    c.connect(b.host, b.port, keepalive=30)
    c.loop_start()
    deadline = time.monotonic() + 5
    while not c.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert c.is_connected()
    c.got = got
    return c


def _stop(c):
    c.disconnect()
    c.loop_stop()


def _retained_for_new_subscriber(b, wait=1.0, client_id="reader"):
    """Subscribes a fresh anonymous client to test/# and returns what it
    gets within `wait` seconds."""
    r = _client(b, client_id)
    try:
        res, mid = r.subscribe("test/#", 1)
        assert res == 0
        time.sleep(wait)
        return list(r.got)
    finally:
        _stop(r)


def _publish_retained(b, username, client_id, topic="test/r", payload=b"kept"):
    p = _client(b, client_id, username)
    try:
        info = p.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish()
    finally:
        _stop(p)


def _config(acl, check):
    return "acl_file %s\n%s" % (acl, "check_retain_source true\n" if check else "")


@pytest.mark.parametrize("check", [True, False])
def test_revoked_write_hides_retained(configured_broker, workdir, check):
    os.chmod(workdir, 0o755)
    acl = os.path.join(workdir, "acl")
    _write(acl, ACL_WRITE)
    b = configured_broker(_config(acl, check))
    _publish_retained(b, "alice", "alice-pub")
    assert _retained_for_new_subscriber(b, 0.5) == [("test/r", b"kept", True)]

    _write(acl, ACL_READ_ONLY)
    _hup_and_wait(b, 1)
    got = _retained_for_new_subscriber(b, client_id="reader2")
    assert got == ([] if check else [("test/r", b"kept", True)])


def test_user_removed_from_acl_hides_retained(configured_broker, workdir):
    """alice's block is gone: her messages are checked against the rules
    that apply to her now (the anonymous section does not apply to a named
    user), and they do not grant write."""
    os.chmod(workdir, 0o755)
    acl = os.path.join(workdir, "acl")
    _write(acl, ACL_WRITE)
    b = configured_broker(_config(acl, True))
    _publish_retained(b, "alice", "alice-pub")
    _write(acl, "topic readwrite test/#\n")
    _hup_and_wait(b, 1)
    assert _retained_for_new_subscriber(b) == []


def test_pattern_rule_by_client_id(configured_broker, workdir):
    """The source's client id is what %c sees: the retained message stays
    while a pattern grants its writer write, and goes when it no longer
    does."""
    os.chmod(workdir, 0o755)
    acl = os.path.join(workdir, "acl")
    _write(acl, "topic read test/#\npattern write test/%c\n")
    b = configured_broker(_config(acl, True))
    _publish_retained(b, None, "dev1", topic="test/dev1")
    _write(acl, "topic read test/#\npattern write test/%c\n"
                "pattern write other/%c\n")
    _hup_and_wait(b, 1)
    assert _retained_for_new_subscriber(b) == [("test/dev1", b"kept", True)]
    _write(acl, "topic read test/#\npattern write other/%c\n")
    _hup_and_wait(b, 2)
    assert _retained_for_new_subscriber(b, client_id="reader2") == []


def test_retained_after_revocation_from_new_publisher(configured_broker, workdir):
    """The check follows the latest publisher of the topic: a retained
    message replaced by someone still allowed is delivered."""
    os.chmod(workdir, 0o755)
    acl = os.path.join(workdir, "acl")
    _write(acl, ACL_WRITE + "user bob\ntopic readwrite test/#\n")
    b = configured_broker(_config(acl, True))
    _publish_retained(b, "alice", "alice-pub", payload=b"a")
    _publish_retained(b, "bob", "bob-pub", payload=b"b")
    _write(acl, ACL_READ_ONLY + "user bob\ntopic readwrite test/#\n")
    _hup_and_wait(b, 1)
    assert _retained_for_new_subscriber(b) == [("test/r", b"b", True)]


def test_revocation_survives_restart_with_persistence(configured_broker, workdir):
    """The source is persisted with the retained message: after a restart
    with the write right gone, the message stays hidden (Mosquitto's
    persistence test for CVE-2018-12546)."""
    os.chmod(workdir, 0o777)
    acl = os.path.join(workdir, "acl")
    _write(acl, ACL_WRITE)
    conf = _config(acl, True) + "persistence true\npersistence_location %s/\n" % workdir
    b = configured_broker(conf)
    _publish_retained(b, "alice", "alice-pub")
    b.stop()
    _write(acl, ACL_READ_ONLY)
    b = configured_broker(conf)
    assert _retained_for_new_subscriber(b) == []
    b.stop()
    _write(acl, ACL_WRITE)
    b = configured_broker(conf)
    assert _retained_for_new_subscriber(b, client_id="reader2") == [("test/r", b"kept", True)]


def test_retained_will_is_checked(configured_broker, workdir):
    """A retained will counts as its client's message: it is hidden once
    the client loses write access, as in Mosquitto."""
    os.chmod(workdir, 0o755)
    acl = os.path.join(workdir, "acl")
    _write(acl, ACL_WRITE)
    b = configured_broker(_config(acl, True))
    w = mqtt.Client("alice-will")
    w.username_pw_set("alice", "pw")
    w.will_set("test/will", b"gone", qos=1, retain=True)
    w.connect(b.host, b.port, keepalive=30)
    w.loop_start()
    deadline = time.monotonic() + 5
    while not w.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    w.loop_stop()
    w.socket().close()  # no DISCONNECT: the will goes out
    time.sleep(0.5)
    assert _retained_for_new_subscriber(b, 0.5, "reader0") == [("test/will", b"gone", True)]
    _write(acl, ACL_READ_ONLY)
    _hup_and_wait(b, 1)
    assert _retained_for_new_subscriber(b) == []


# ---------------------------------------------------------------- memory_limit

LIMIT = 3000000
BIG = b"x" * 50000


def _pkt(kind, body):
    n, rl = len(body), b""
    while True:
        d, n = n % 128, n // 128
        rl += bytes([d | (0x80 if n else 0)])
        if not n:
            return bytes([kind]) + rl + body


def _s(text):
    b = text.encode()
    return struct.pack("!H", len(b)) + b


def _slow_subscriber(b, filt="t/#"):
    """A 3.1.1 client subscribed at QoS 1 that never reads again: its queue
    and the broker's output for it fill up."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((b.host, b.port))
    s.sendall(_pkt(0x10, _s("MQTT") + bytes([4, 2, 0, 60]) + _s("slow")))
    assert s.recv(4)[:1] == b"\x20"
    s.sendall(_pkt(0x82, struct.pack("!H", 1) + _s(filt) + b"\x01"))
    time.sleep(0.3)
    return s


def _flood(b, client_id="pub", proto=mqtt.MQTTv311, count=300):
    """Publishes BIG at QoS 1 until the broker drops the connection (or
    `count` messages); returns (acks, disconnect reason codes)."""
    acks, discs = [], []
    p = mqtt.Client(client_id, protocol=proto)
    p.on_publish = lambda c, u, mid, *a: acks.append(mid)
    p.on_disconnect = lambda c, u, rc, *a: discs.append(rc)
    p.reconnect_delay_set(60, 60)  # no reconnect within the test
    p.connect(b.host, b.port, keepalive=30)
    p.loop_start()
    deadline = time.monotonic() + 30
    for _ in range(count):
        if discs or time.monotonic() > deadline:
            break
        p.publish("t/a", BIG, qos=1)
        time.sleep(0.01)
    end = time.monotonic() + 3
    while not discs and time.monotonic() < end:
        time.sleep(0.05)
    p.loop_stop()
    try:
        p.socket() and p.socket().close()
    except OSError:
        pass
    return acks, discs


def _publish_ok(b, client_id, payload=BIG):
    p = _client(b, client_id)
    try:
        info = p.publish("t/a", payload, qos=1)
        deadline = time.monotonic() + 5
        while not info.is_published() and time.monotonic() < deadline:
            time.sleep(0.02)
        ok = info.is_published()
        time.sleep(0.2)
        return ok and p.is_connected()
    finally:
        _stop(p)


def test_memory_limit_refuses_then_recovers(configured_broker):
    b = configured_broker("memory_limit %d\n" % LIMIT)
    other = _client(b, "other")
    slow = _slow_subscriber(b)
    try:
        acks, discs = _flood(b)
        # The publisher is disconnected once its messages no longer fit...
        assert discs, "publisher never refused after %d acks" % len(acks)
        assert len(acks) * len(BIG) < 2 * LIMIT
        # ...while another client stays connected and served.
        res, mid = other.subscribe("o/#", 0)
        assert res == 0
        time.sleep(0.3)
        assert other.is_connected()
        # A new publisher of big messages is refused as well while full.
        acks2, discs2 = _flood(b, "pub2", count=5)
        assert discs2
    finally:
        slow.close()
    # The slow subscriber's queue is freed with its session: room again.
    time.sleep(1.0)
    assert _publish_ok(b, "pub3")
    assert other.is_connected()
    _stop(other)


def test_memory_limit_v5_reason_midge(workdir):
    """midge tells a v5 publisher why (DISCONNECT 0x97 Quota exceeded);
    Mosquitto just closes the connection."""
    b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "memory_limit %d\n" % LIMIT)
    slow = _slow_subscriber(b)
    try:
        acks, discs = _flood(b)
        assert discs
        s = socket.create_connection((b.host, b.port), timeout=5)
        s.sendall(_pkt(0x10, _s("MQTT") + bytes([5, 2, 0, 60, 0]) + _s("v5pub")))
        assert s.recv(64)[:1] == b"\x20"
        s.sendall(_pkt(0x32, _s("t/a") + struct.pack("!H", 1) + b"\x00" + BIG))
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = s.recv(64)
            if not chunk:
                break
            data += chunk
        s.close()
        assert data == b"\xe0\x01\x97", data
        assert "disconnected due to out of memory" in b.log_text()
    finally:
        slow.close()
        b.check_clean(b.stop())


def _sys_values(b, topics, wait=3.0):
    got = {}
    c = mqtt.Client("sysreader")
    c.on_message = lambda cl, u, m: got.__setitem__(m.topic, int(m.payload))
    c.connect(b.host, b.port, keepalive=30)
    c.loop_start()
    c.subscribe("$SYS/broker/heap/#", 0)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not all(t in got for t in topics):
        time.sleep(0.05)
    c.disconnect()
    c.loop_stop()
    return got


def test_heap_topics_follow_messages_midge(workdir):
    """$SYS/broker/heap/current counts message memory (memuse.h): a 200 kB
    retained message shows up and goes away when it is cleared; maximum
    keeps the peak."""
    b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "sys_interval 1\n")
    try:
        topics = ("$SYS/broker/heap/current", "$SYS/broker/heap/maximum")
        before = _sys_values(b, topics)
        assert set(topics) <= set(before)
        _publish_retained(b, None, "big", topic="r/big", payload=b"y" * 200000)
        time.sleep(1.2)
        during = _sys_values(b, topics)
        assert during["$SYS/broker/heap/current"] >= before["$SYS/broker/heap/current"] + 200000
        _publish_retained(b, None, "big", topic="r/big", payload=b"")
        time.sleep(1.2)
        after = _sys_values(b, topics)
        assert after["$SYS/broker/heap/current"] < during["$SYS/broker/heap/current"] - 150000
        assert after["$SYS/broker/heap/maximum"] >= during["$SYS/broker/heap/current"]
    finally:
        b.check_clean(b.stop())


def test_memory_limit_counts_retained_midge(workdir):
    """Retained messages count: once they fill the limit, a further big
    PUBLISH is refused; clearing them makes room again."""
    b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "memory_limit 1000000\n")
    try:
        for i in range(16):
            _publish_retained(b, None, "r%d" % i, topic="r/%d" % i, payload=b"z" * 60000)
        acks, discs = _flood(b, "pub", count=5)
        assert discs and not acks, (acks, discs)
        for i in range(16):
            _publish_retained(b, None, "c%d" % i, topic="r/%d" % i, payload=b"")
        assert _publish_ok(b, "pub2")
    finally:
        b.check_clean(b.stop())
