"""Sessions: clean session / clean start, Session Expiry Interval (also set
at DISCONNECT), session present, offline queueing and its limit."""
import time

import pytest

import mqttraw as R
from peers import (V5, V311, PacketTypes, Paho, mosquitto_pub, mosquitto_sub, props,
                   sub_output)


def offline_publish(broker, topic, payloads, qos=1):
    with R.connected(broker.port, "offline-pub") as p:
        for payload in payloads:
            p.publish(topic, payload, qos=qos)


def drain_publishes(c, quiet=0.5, limit=5000):
    got = []
    for _ in range(limit):
        try:
            got.append(c.recv_publish(timeout=quiet))
        except R.Timeout:
            return got
    raise AssertionError("more than %d messages" % limit)


def test_v311_clean_session_no_session_present(any_broker):
    with R.Client(any_broker.port) as c:
        assert not c.connect("fresh", clean=True).session_present


def test_v311_persistent_session_keeps_subscription_and_queues(any_broker):
    s = R.connected(any_broker.port, "keeper", clean=False)
    assert not s.connack.session_present
    s.subscribe([("pq/t", 2)])
    s.disconnect()
    offline_publish(any_broker, "pq/t", [b"q1-a", b"q1-b"], qos=1)
    offline_publish(any_broker, "pq/t", [b"q2"], qos=2)
    with R.Client(any_broker.port) as s2:
        assert s2.connect("keeper", clean=False).session_present
        got = [(m.payload, m.qos) for m in drain_publishes(s2)]
        assert got == [(b"q1-a", 1), (b"q1-b", 1), (b"q2", 2)]


def test_v311_qos0_not_queued_offline(any_broker):
    """Like Mosquitto's default (queue_qos0_messages false)."""
    s = R.connected(any_broker.port, "keeper0", clean=False)
    s.subscribe([("pq/0", 1)])
    s.disconnect()
    offline_publish(any_broker, "pq/0", [b"zero"], qos=0)
    offline_publish(any_broker, "pq/0", [b"one"], qos=1)
    with R.Client(any_broker.port) as s2:
        assert s2.connect("keeper0", clean=False).session_present
        assert [m.payload for m in drain_publishes(s2)] == [b"one"]


def test_v311_clean_session_discards_old_session(any_broker):
    s = R.connected(any_broker.port, "dropper", clean=False)
    s.subscribe([("dq/t", 1)])
    s.disconnect()
    offline_publish(any_broker, "dq/t", [b"lost"])
    with R.Client(any_broker.port) as s2:
        assert not s2.connect("dropper", clean=True).session_present
        s2.nothing(0.4)
    offline_publish(any_broker, "dq/t", [b"after"])
    with R.Client(any_broker.port) as s3:
        assert not s3.connect("dropper", clean=False).session_present
        s3.nothing(0.4)


def test_session_present_while_connected_takeover(any_broker):
    s = R.connected(any_broker.port, "twice", clean=False)
    s.subscribe([("tw", 1)])
    with R.Client(any_broker.port) as s2:
        assert s2.connect("twice", clean=False).session_present
    s.close()


def test_offline_queue_bounded(any_broker):
    """Mosquitto's max_queued_messages default is 1000: the oldest 1000 are
    kept, later ones dropped; midge uses the same default."""
    s = R.connected(any_broker.port, "bounded", clean=False)
    s.subscribe([("bq/t", 1)])
    s.disconnect()
    offline_publish(any_broker, "bq/t", [b"%d" % i for i in range(1100)])
    with R.Client(any_broker.port) as s2:
        assert s2.connect("bounded", clean=False).session_present
        got = [m.payload for m in drain_publishes(s2)]
    assert got == [b"%d" % i for i in range(1000)]


@pytest.mark.parametrize("expiry,present", [(0, False), (60, True)])
def test_v5_session_expiry_on_reconnect(any_broker, expiry, present):
    props_ = [(R.SESSION_EXPIRY, expiry)] if expiry else None
    s = R.connected(any_broker.port, "exp-%d" % expiry, version=5, properties=props_)
    s.subscribe([("se/t", 1)])
    s.disconnect()
    offline_publish(any_broker, "se/t", [b"while-away"])
    with R.Client(any_broker.port, version=5) as s2:
        ca = s2.connect("exp-%d" % expiry, clean=False, properties=props_)
        assert ca.session_present is present
        got = [m.payload for m in drain_publishes(s2)]
        assert got == ([b"while-away"] if present else [])


def test_v5_session_expires_after_interval(any_broker):
    s = R.connected(any_broker.port, "short", version=5, properties=[(R.SESSION_EXPIRY, 1)])
    s.subscribe([("se/short", 1)])
    s.disconnect()
    time.sleep(2.5)
    with R.Client(any_broker.port, version=5) as s2:
        assert not s2.connect("short", clean=False).session_present


def test_v5_clean_start_discards_session(any_broker):
    s = R.connected(any_broker.port, "cs", version=5, properties=[(R.SESSION_EXPIRY, 60)])
    s.subscribe([("cs/t", 1)])
    s.disconnect()
    with R.Client(any_broker.port, version=5) as s2:
        assert not s2.connect("cs", clean=True,
                              properties=[(R.SESSION_EXPIRY, 60)]).session_present


def test_v5_session_expiry_set_to_zero_at_disconnect(any_broker):
    s = R.connected(any_broker.port, "zeroed", version=5, properties=[(R.SESSION_EXPIRY, 60)])
    s.subscribe([("z/t", 1)])
    s.disconnect(reason=0, properties=[(R.SESSION_EXPIRY, 0)])
    time.sleep(0.2)
    with R.Client(any_broker.port, version=5) as s2:
        assert not s2.connect("zeroed", clean=False).session_present


def test_v5_session_expiry_raised_at_disconnect(any_broker):
    s = R.connected(any_broker.port, "raised", version=5, properties=[(R.SESSION_EXPIRY, 1)])
    s.subscribe([("ra/t", 1)])
    s.disconnect(reason=0, properties=[(R.SESSION_EXPIRY, 60)])
    time.sleep(2.5)
    with R.Client(any_broker.port, version=5) as s2:
        assert s2.connect("raised", clean=False).session_present


def test_paho_v5_persistent_session(any_broker):
    conn = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    s = Paho(any_broker, "paho-persist", version=V5, clean=False, properties=conn)
    s.subscribe("pp/t", 1)
    s.disconnect()
    offline_publish(any_broker, "pp/t", [b"queued"])
    s2 = Paho(any_broker, "paho-persist", version=V5, clean=False, properties=conn)
    try:
        assert s2.session_present
        assert s2.get().payload == b"queued"
    finally:
        s2.disconnect()


def test_paho_v311_persistent_session(any_broker):
    s = Paho(any_broker, "paho-persist3", version=V311, clean=False)
    s.subscribe("pp3/t", 1)
    s.disconnect()
    offline_publish(any_broker, "pp3/t", [b"queued"])
    s2 = Paho(any_broker, "paho-persist3", version=V311, clean=False)
    try:
        assert s2.session_present
        assert s2.get().payload == b"queued"
    finally:
        s2.disconnect()


def test_mosquitto_sub_persistent_session(any_broker):
    first = mosquitto_sub(any_broker.port, "ms/t", count=1, wait=1,
                          extra=["-c", "-i", "cli-persist", "-q", "1"])
    sub_output(first)  # timed out with nothing: the session now exists
    mosquitto_pub(any_broker.port, "ms/t", "stored", extra=["-q", "1"])
    again = mosquitto_sub(any_broker.port, "ms/t", count=1, wait=5,
                          extra=["-c", "-i", "cli-persist", "-q", "1"])
    rc, out, err = sub_output(again)
    assert (rc, out) == (0, "stored\n"), err


def test_offline_queue_bounded_by_bytes(configured_broker):
    """max_queued_bytes counts queued payload bytes: 1000 bytes hold ten
    100-byte messages, the later ones are dropped (as in Mosquitto)."""
    b = configured_broker("max_queued_bytes 1000")
    s = R.connected(b.port, "bytes", clean=False)
    s.subscribe([("bb/t", 1)])
    s.disconnect()
    offline_publish(b, "bb/t", [b"%03d" % i + b"x" * 97 for i in range(20)])
    with R.Client(b.port) as s2:
        assert s2.connect("bytes", clean=False).session_present
        got = [m.payload[:3] for m in drain_publishes(s2)]
    assert got == [b"%03d" % i for i in range(10)]


def test_v311_takeover_keeps_persistent_session(any_broker):
    old = R.connected(any_broker.port, "handover", clean=False)
    old.subscribe([("ho/t", 1)])
    new = R.Client(any_broker.port)
    try:
        assert new.connect("handover", clean=False).session_present
        assert old.wait_closed(3) == []
        offline_publish(any_broker, "ho/t", [b"to-new"])
        assert new.recv_publish().payload == b"to-new"
    finally:
        old.close()
        new.close()


def test_resume_redelivers_inflight_then_queued_in_order(any_broker):
    """30 QoS 1 messages reach a subscriber that acks none: the in-flight
    ones come back with DUP on resume, then the rest, all in order."""
    s = R.connected(any_broker.port, "window", clean=False)
    s.subscribe([("win/t", 1)])
    offline_publish(any_broker, "win/t", [b"%d" % i for i in range(30)])
    first = []
    for _ in range(30):
        try:
            first.append(s.recv(0.5))
        except R.Timeout:
            break
    assert 1 <= len(first) <= 30
    s.close()
    with R.Client(any_broker.port) as s2:
        assert s2.connect("window", clean=False).session_present
        got = drain_publishes(s2)
    assert [m.payload for m in got] == [b"%d" % i for i in range(30)]
    sent_before = {f.payload: f.mid for f in first}
    for m in got:
        if m.payload in sent_before:
            assert m.dup and m.mid == sent_before[m.payload], m
        else:
            assert not m.dup, m


def test_live_messages_follow_queued_ones(any_broker):
    s = R.connected(any_broker.port, "catchup", clean=False)
    s.subscribe([("cu/t", 1)])
    s.disconnect()
    offline_publish(any_broker, "cu/t", [b"old-%d" % i for i in range(5)])
    with R.Client(any_broker.port) as s2:
        assert s2.connect("catchup", clean=False).session_present
        offline_publish(any_broker, "cu/t", [b"new-%d" % i for i in range(5)])
        got = [m.payload for m in drain_publishes(s2)]
    assert got == [b"old-%d" % i for i in range(5)] + [b"new-%d" % i for i in range(5)]


def test_v5_session_expiry_max_never_expires(any_broker):
    s = R.connected(any_broker.port, "forever", version=5,
                    properties=[(R.SESSION_EXPIRY, 0xFFFFFFFF)])
    s.subscribe([("fe/t", 1)])
    s.disconnect()
    time.sleep(1.2)
    with R.Client(any_broker.port, version=5) as s2:
        assert s2.connect("forever", clean=False).session_present


def test_clean_takeover_of_persistent_session(any_broker):
    old = R.connected(any_broker.port, "wiped", clean=False)
    old.subscribe([("wp/t", 1)])
    new = R.Client(any_broker.port)
    try:
        assert not new.connect("wiped", clean=True).session_present
        assert old.wait_closed(3) == []
        offline_publish(any_broker, "wp/t", [b"nobody"])
        new.nothing(0.4)
    finally:
        old.close()
        new.close()


def test_online_queue_bounded(any_broker):
    """A connected subscriber that acknowledges nothing holds its in-flight
    window (20) plus max_queued_messages (1000) like Mosquitto; the rest is
    dropped rather than kept in memory without bound."""
    s = R.connected(any_broker.port, "stalled")
    s.subscribe([("oq/t", 1)])
    offline_publish(any_broker, "oq/t", [b"%d" % i for i in range(1500)])
    time.sleep(0.3)
    got = [m.payload for m in drain_publishes(s)]
    s.close()
    assert got == [b"%d" % i for i in range(1020)]


@pytest.mark.parametrize("version", [4, 5], ids=["v311", "v5"])
def test_takeover_does_not_resume_a_session_that_ends_with_its_connection(any_broker, version):
    """A clean session (expiry 0) lives as long as its connection; a second
    connection with the same id and clean session false takes over, which
    ends that connection and with it the session: nothing is resumed, even
    though the first connection was still open (midge once resumed it, and
    a reconnection racing the old close saw session present)."""
    first = R.connected(any_broker.port, "racer", version=version, clean=True)
    first.subscribe([("race/t", 1)])
    kw = {"properties": [(R.SESSION_EXPIRY, 60)]} if version == 5 else {}
    with R.Client(any_broker.port, version=version) as second:
        assert not second.connect("racer", clean=False, **kw).session_present
    first.close()
