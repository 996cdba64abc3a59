"""Shared subscriptions ($share/group/filter) and the $SYS/broker topics."""
import re
import time

import pytest

import mqttraw as R
from peers import V5, V311, Paho


def drain(c, quiet=0.4, limit=2000):
    got = []
    for _ in range(limit):
        try:
            got.append(c.recv_publish(timeout=quiet))
        except R.Timeout:
            return got
    raise AssertionError("more than %d messages" % limit)


@pytest.mark.parametrize("version", [4, 5])
def test_shared_one_member_per_message(any_broker, version):
    a = R.connected(any_broker.port, "member-a", version=version)
    b = R.connected(any_broker.port, "member-b", version=version)
    try:
        a.subscribe([("$share/grp/sh/t", 1)])
        b.subscribe([("$share/grp/sh/t", 1)])
        with R.connected(any_broker.port, "p", version=version) as p:
            for i in range(20):
                p.publish("sh/t", b"%d" % i, qos=1)
        got_a = [m.payload for m in drain(a)]
        got_b = [m.payload for m in drain(b)]
        assert sorted(got_a + got_b, key=int) == [b"%d" % i for i in range(20)]
        assert got_a and got_b, "one member got everything"
    finally:
        a.close()
        b.close()


def test_shared_groups_each_get_a_copy(any_broker):
    g1 = R.connected(any_broker.port, "g1", version=5)
    g2 = R.connected(any_broker.port, "g2", version=5)
    plain = R.connected(any_broker.port, "plain", version=5)
    try:
        g1.subscribe([("$share/one/sg/#", 1)])
        g2.subscribe([("$share/two/sg/#", 1)])
        plain.subscribe([("sg/#", 1)])
        with R.connected(any_broker.port, "p", version=5) as p:
            for i in range(5):
                p.publish("sg/x", b"%d" % i, qos=1)
        for c in (g1, g2, plain):
            assert [m.payload for m in drain(c)] == [b"%d" % i for i in range(5)]
    finally:
        for c in (g1, g2, plain):
            c.close()


def test_shared_member_leaves(any_broker):
    a = R.connected(any_broker.port, "stay", version=5)
    b = R.connected(any_broker.port, "leave", version=5)
    try:
        a.subscribe([("$share/g/sl", 1)])
        b.subscribe([("$share/g/sl", 1)])
        b.unsubscribe(["$share/g/sl"])
        with R.connected(any_broker.port, "p", version=5) as p:
            for i in range(6):
                p.publish("sl", b"%d" % i, qos=1)
        assert len(drain(a)) == 6
        b.nothing(0.2)
    finally:
        a.close()
        b.close()


def test_shared_subscription_paho(any_broker):
    members = [Paho(any_broker, "pm%d" % i, version=V5) for i in range(3)]
    p = Paho(any_broker, "pp", version=V311)
    try:
        for m in members:
            m.subscribe("$share/workers/jobs", 1)
        for i in range(30):
            p.publish("jobs", "job%d" % i, 1)
        time.sleep(0.5)
        got = []
        for m in members:
            while not m.messages.empty():
                got.append(m.messages.get_nowait().payload)
        assert sorted(got) == sorted(b"job%d" % i for i in range(30))
    finally:
        p.disconnect()
        for m in members:
            m.disconnect()


def test_v5_connack_shared_available(any_broker):
    with R.connected(any_broker.port, "c", version=5) as c:
        assert c.connack.props.get(R.SHARED_SUB_AVAILABLE, 1) == 1
        assert c.connack.props.get(R.WILDCARD_SUB_AVAILABLE, 1) == 1
        assert c.connack.props.get(R.SUB_ID_AVAILABLE, 1) == 1
        assert c.connack.props.get(R.RETAIN_AVAILABLE, 1) == 1


# ---------------------------------------------------------------- $SYS

SYS_TOPICS = [
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/total",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/subscriptions/count",
    "$SYS/broker/retained messages/count",
]


def sys_values(c, wanted, timeout=4.0):
    """Latest value of each wanted $SYS topic, waiting for all of them."""
    values = {}
    deadline = time.monotonic() + timeout
    while not set(wanted) <= set(values):
        left = deadline - time.monotonic()
        assert left > 0, "missing $SYS topics: %s" % sorted(set(wanted) - set(values))
        m = c.recv_publish(timeout=left)
        values[m.topic] = m.payload.decode()
    return values


def test_sys_topics_published(configured_broker):
    b = configured_broker("sys_interval 1")
    with R.connected(b.port, "other") as o:
        o.subscribe([("sys/test/a", 0), ("sys/test/b", 1)])
        o.publish("sys/test/kept", b"r", qos=1, retain=True)
        with R.connected(b.port, "sysmon") as c:
            c.subscribe([("$SYS/broker/#", 0)])
            v = sys_values(c, SYS_TOPICS)
    assert v["$SYS/broker/version"]
    assert re.fullmatch(r"\d+ seconds", v["$SYS/broker/uptime"]), v["$SYS/broker/uptime"]
    for t in SYS_TOPICS[2:]:
        assert re.fullmatch(r"\d+", v[t]), (t, v[t])


def test_sys_updated_every_interval(configured_broker):
    """With sys_interval 1, uptime is republished: Mosquitto 2.0.11 manages
    every 2 s when idle, so ask for three values within 5 s."""
    b = configured_broker("sys_interval 1")
    with R.connected(b.port, "sysmon") as c:
        c.subscribe([("$SYS/broker/uptime", 0)])
        seen = set()
        deadline = time.monotonic() + 5.0
        while len(seen) < 3 and time.monotonic() < deadline:
            try:
                seen.add(c.recv_publish(timeout=2.5).payload)
            except R.Timeout:
                break
        assert len(seen) >= 3, "uptime values seen: %r" % seen


def test_sys_clients_connected_counts(configured_broker):
    b = configured_broker("sys_interval 1")
    extra = [R.connected(b.port, "extra%d" % i) for i in range(3)]
    try:
        with R.connected(b.port, "sysmon") as c:
            c.subscribe([("$SYS/broker/clients/connected", 0)])
            deadline = time.monotonic() + 4
            n = 0
            while n < 4 and time.monotonic() < deadline:
                n = int(c.recv_publish(timeout=2).payload)
            assert n >= 4
    finally:
        for e in extra:
            e.close()


def test_sys_retained_for_late_subscriber(configured_broker):
    """Like Mosquitto, $SYS values are retained: a subscriber gets the
    version at once, without waiting for the next interval."""
    b = configured_broker("sys_interval 10")
    time.sleep(0.3)
    with R.connected(b.port, "late") as c:
        c.subscribe([("$SYS/broker/version", 0)])
        m = c.recv_publish(timeout=2)
        assert m.retain and m.payload


def test_client_cannot_publish_into_sys(any_broker):
    """Mosquitto ignores a client's PUBLISH to $SYS/...; subscribers of the
    topic do not see it."""
    with R.connected(any_broker.port, "sysmon") as c, \
            R.connected(any_broker.port, "faker") as f:
        c.subscribe([("$SYS/fake/topic", 0)])
        f.publish("$SYS/fake/topic", b"spoof", qos=1)
        c.nothing(0.4)
