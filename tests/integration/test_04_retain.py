"""Retained messages: set, replace, clear with an empty payload, sent on
subscribe with the retain flag."""
import time

import pytest

import mqttraw as R
from peers import V5, V311, Paho, mosquitto_pub, mosquitto_sub, sub_output


def publish_retained(broker, topic, payload, qos=1, version=4):
    with R.connected(broker.port, "retainer", version=version) as p:
        p.publish(topic, payload, qos=qos, retain=True)
        if qos == 0:
            # QoS 0 has no acknowledgement, and nothing orders packets of
            # different connections: on a multi-threaded broker the next
            # client may subscribe before this PUBLISH is handled. A ping
            # answered on the same connection proves it was.
            p.ping()


@pytest.mark.parametrize("version", [4, 5])
def test_retained_sent_on_subscribe(any_broker, version):
    publish_retained(any_broker, "r/t", b"kept", version=version)
    with R.connected(any_broker.port, "late", version=version) as s:
        s.subscribe([("r/t", 1)])
        m = s.recv_publish()
        assert (m.topic, m.payload, m.retain, m.qos) == ("r/t", b"kept", True, 1)


def test_retained_replaced(any_broker):
    publish_retained(any_broker, "r/t", b"one")
    publish_retained(any_broker, "r/t", b"two")
    with R.connected(any_broker.port, "late") as s:
        s.subscribe([("r/t", 1)])
        assert s.recv_publish().payload == b"two"
        s.nothing(0.3)


@pytest.mark.parametrize("qos", [0, 1])
def test_retained_cleared_by_empty_payload(any_broker, qos):
    publish_retained(any_broker, "r/t", b"one")
    publish_retained(any_broker, "r/t", b"", qos=qos)
    with R.connected(any_broker.port, "late") as s:
        s.subscribe([("r/t", 1)])
        s.nothing(0.4)


def test_clear_reaches_live_subscribers(any_broker):
    with R.connected(any_broker.port, "live") as s:
        s.subscribe([("r/t", 1)])
        publish_retained(any_broker, "r/t", b"one")
        publish_retained(any_broker, "r/t", b"")
        a, b = s.recv_publish(), s.recv_publish()
        assert (a.payload, b.payload) == (b"one", b"")


def test_live_delivery_has_retain_flag_clear(any_broker):
    with R.connected(any_broker.port, "live") as s:
        s.subscribe([("r/t", 1)])
        publish_retained(any_broker, "r/t", b"now")
        m = s.recv_publish()
        assert m.payload == b"now" and not m.retain


def test_retained_wildcard_subscribe_gets_all(any_broker):
    for i in range(5):
        publish_retained(any_broker, "house/room%d/temp" % i, b"%d" % i)
    publish_retained(any_broker, "house/room0/hum", b"h")
    with R.connected(any_broker.port, "late") as s:
        s.subscribe([("house/+/temp", 1)])
        got = sorted((m.topic, m.payload) for m in (s.recv_publish() for _ in range(5)))
        assert got == [("house/room%d/temp" % i, b"%d" % i) for i in range(5)]
        assert all(True for _ in got)
        s.nothing(0.3)


def test_retained_qos_is_min_of_message_and_subscription(any_broker):
    publish_retained(any_broker, "r/q0", b"a", qos=0)
    publish_retained(any_broker, "r/q2", b"b", qos=2)
    with R.connected(any_broker.port, "late") as s:
        s.subscribe([("r/q0", 2)])
        assert s.recv_publish().qos == 0
        s.subscribe([("r/q2", 1)])
        assert s.recv_publish().qos == 1


def test_retained_dollar_topic_not_sent_to_hash(any_broker):
    publish_retained(any_broker, "$app/status", b"hidden")
    publish_retained(any_broker, "app/status", b"shown")
    with R.connected(any_broker.port, "late") as s:
        s.subscribe([("#", 1)])
        got = []
        for _ in range(200):
            try:
                m = s.recv_publish(0.4)
            except R.Timeout:
                break
            got.append(m.topic)
        assert "app/status" in got and "$app/status" not in got


def test_retained_with_mosquitto_clients(any_broker):
    mosquitto_pub(any_broker.port, "cli/retained", "sticky", extra=["-r", "-q", "1"])
    sub = mosquitto_sub(any_broker.port, "cli/retained", count=1, extra=["-v"])
    rc, out, err = sub_output(sub)
    assert (rc, out) == (0, "cli/retained sticky\n"), err


def test_retained_paho_v5_properties_kept(any_broker):
    from peers import PacketTypes, props
    p = Paho(any_broker, "rp", version=V5)
    p.publish("r/props", "v", 1, retain=True,
              properties=props(PacketTypes.PUBLISH, ContentType="text/plain",
                               UserProperty=[("k", "v")]))
    p.disconnect()
    s = Paho(any_broker, "rs", version=V5)
    try:
        s.subscribe("r/props", 1)
        m = s.get()
        assert m.retain and m.payload == b"v"
        assert m.properties.ContentType == "text/plain"
        assert m.properties.UserProperty == [("k", "v")]
    finally:
        s.disconnect()


def test_retained_survives_publisher_and_many_subscribers(any_broker):
    publish_retained(any_broker, "r/many", b"x")
    for i in range(10):
        s = Paho(any_broker, "rs%d" % i, version=V311)
        try:
            s.subscribe("r/many", 0)
            assert s.get().payload == b"x"
        finally:
            s.disconnect()


def test_v5_retained_carries_subscription_identifier(any_broker):
    publish_retained(any_broker, "r/sid", b"kept", version=5)
    with R.connected(any_broker.port, "late", version=5) as s:
        s.subscribe([("r/+", 1)], properties=[(R.SUBSCRIPTION_ID, 9)])
        m = s.recv_publish()
        assert m.retain and m.props.all(R.SUBSCRIPTION_ID) == [9]


def test_v5_retained_remaining_expiry(any_broker):
    with R.connected(any_broker.port, "p", version=5) as p:
        p.publish("r/exp", b"x", qos=1, retain=True, properties=[(R.MESSAGE_EXPIRY, 30)])
    time.sleep(1.1)
    with R.connected(any_broker.port, "late", version=5) as s:
        s.subscribe([("r/exp", 1)])
        m = s.recv_publish()
        assert 27 <= m.props.get(R.MESSAGE_EXPIRY) <= 29


def test_v5_retained_too_big_for_client_not_sent(any_broker):
    publish_retained(any_broker, "r/big", b"x" * 500, version=5)
    publish_retained(any_broker, "r/small", b"s", version=5)
    with R.Client(any_broker.port, version=5) as s:
        assert s.connect("tiny", properties=[(R.MAXIMUM_PACKET_SIZE, 100)]).reason == 0
        s.subscribe([("r/+", 1)])
        m = s.recv_publish()
        assert m.topic == "r/small"
        s.nothing(0.3)
