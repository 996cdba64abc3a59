"""Wills: sent on any ungraceful end, not after a normal DISCONNECT; v5
DISCONNECT 0x04; Will Delay Interval; will properties."""
import time

import pytest

import mqttraw as R
from peers import V311, Paho


def watcher(broker, topic="will/#", version=4):
    w = R.connected(broker.port, "watcher", version=version)
    w.subscribe([(topic, 2)])
    return w


def with_will(broker, client_id="dying", version=4, keepalive=60, properties=None,
              will_props=None, **will):
    will.setdefault("topic", "will/t")
    will["properties"] = will_props
    will.setdefault("payload", b"gone")
    return R.connected(broker.port, client_id, version=version, keepalive=keepalive,
                       will=will, properties=properties)


@pytest.mark.parametrize("version", [3, 4, 5])
def test_will_on_socket_close(any_broker, version):
    with watcher(any_broker) as w:
        c = with_will(any_broker, version=version, qos=1)
        c.close()
        m = w.recv_publish()
        assert (m.topic, m.payload, m.qos, m.retain) == ("will/t", b"gone", 1, False)


@pytest.mark.parametrize("version", [4, 5])
def test_no_will_after_disconnect(any_broker, version):
    with watcher(any_broker) as w:
        c = with_will(any_broker, version=version)
        c.disconnect()
        w.nothing(0.6)


def test_v5_disconnect_with_will_0x04(any_broker):
    with watcher(any_broker) as w:
        c = with_will(any_broker, version=5)
        c.disconnect(reason=0x04)
        assert w.recv_publish().payload == b"gone"


def test_will_on_protocol_error(any_broker):
    with watcher(any_broker) as w:
        c = with_will(any_broker)
        c.send(R.publish("bad/+", b"x"))
        assert c.wait_closed(3) == []
        assert w.recv_publish().payload == b"gone"


def test_will_on_keepalive_timeout(any_broker):
    """Mosquitto's coarse keep-alive check makes this take ~5 s there."""
    with watcher(any_broker) as w:
        c = with_will(any_broker, keepalive=1)
        m = w.recv_publish(timeout=9)
        assert m.payload == b"gone"
        c.close()


def test_will_retained(any_broker):
    c = with_will(any_broker, retain=True, qos=1)
    c.close()
    time.sleep(0.3)
    with R.connected(any_broker.port, "late") as s:
        s.subscribe([("will/t", 1)])
        m = s.recv_publish()
        assert (m.payload, m.retain) == (b"gone", True)


def test_will_on_session_takeover_v311(any_broker):
    with watcher(any_broker) as w:
        c = with_will(any_broker, client_id="taken")
        new = R.connected(any_broker.port, "taken")
        try:
            assert w.recv_publish().payload == b"gone"
        finally:
            c.close()
            new.close()


def test_will_paho_v311(any_broker):
    w = Paho(any_broker, "pw", version=V311)
    w.subscribe("will/paho", 1)
    c = Paho(any_broker, "pdying", version=V311,
             will={"topic": "will/paho", "payload": "paho gone", "qos": 1})
    try:
        c.drop()
        m = w.get()
        assert m.payload == b"paho gone"
    finally:
        w.disconnect()


def test_v5_will_delay(any_broker):
    with watcher(any_broker, version=5) as w:
        c = with_will(any_broker, "delayed", version=5,
                      properties=[(R.SESSION_EXPIRY, 60)],
                      will_props=[(R.WILL_DELAY, 2)])
        t0 = time.monotonic()
        c.close()
        m = w.recv_publish(timeout=5)
        elapsed = time.monotonic() - t0
        assert m.payload == b"gone"
        assert 1.5 <= elapsed <= 4.0, "will after %.2fs, delay 2s" % elapsed


def test_v5_will_delay_cancelled_by_reconnect(any_broker):
    with watcher(any_broker, version=5) as w:
        c = with_will(any_broker, "comeback", version=5,
                      properties=[(R.SESSION_EXPIRY, 60)],
                      will_props=[(R.WILL_DELAY, 2)])
        c.close()
        time.sleep(0.3)
        again = R.connected(any_broker.port, "comeback", version=5, clean=False,
                            properties=[(R.SESSION_EXPIRY, 60)])
        try:
            w.nothing(3.0)
        finally:
            again.disconnect()


def test_v5_will_sent_at_session_end_before_delay(any_broker):
    with watcher(any_broker, version=5) as w:
        c = with_will(any_broker, "shortsession", version=5,
                      properties=[(R.SESSION_EXPIRY, 1)],
                      will_props=[(R.WILL_DELAY, 30)])
        t0 = time.monotonic()
        c.close()
        m = w.recv_publish(timeout=5)
        elapsed = time.monotonic() - t0
        assert m.payload == b"gone"
        assert elapsed <= 3.5, "will after %.2fs, session expiry 1s" % elapsed


def test_v5_will_delay_zero_session_immediate_midge(midge):
    """Will Delay 30 s but Session Expiry 0: the session ends with the
    connection, so the will goes at once (spec 3.1.3.2.2). Mosquitto 2.0.11
    waits for the whole Will Delay instead."""
    with watcher(midge, version=5) as w:
        c = with_will(midge, "nosession", version=5,
                      will_props=[(R.WILL_DELAY, 30)])
        c.close()
        assert w.recv_publish(timeout=2).payload == b"gone"


def test_v5_will_properties_forwarded(any_broker):
    will_props = [(R.CONTENT_TYPE, "application/json"), (R.RESPONSE_TOPIC, "reply/here"),
                  (R.CORRELATION_DATA, b"\x01\x02"), (R.PAYLOAD_FORMAT, 1),
                  (R.USER_PROPERTY, ("a", "1")), (R.USER_PROPERTY, ("b", "2")),
                  (R.USER_PROPERTY, ("a", "3")), (R.MESSAGE_EXPIRY, 100)]
    with watcher(any_broker, version=5) as w:
        c = with_will(any_broker, "propwill", version=5, will_props=will_props)
        c.close()
        m = w.recv_publish()
        assert m.props.get(R.CONTENT_TYPE) == "application/json"
        assert m.props.get(R.RESPONSE_TOPIC) == "reply/here"
        assert m.props.get(R.CORRELATION_DATA) == b"\x01\x02"
        assert m.props.get(R.PAYLOAD_FORMAT) == 1
        assert m.props.all(R.USER_PROPERTY) == [("a", "1"), ("b", "2"), ("a", "3")]
        assert 98 <= m.props.get(R.MESSAGE_EXPIRY) <= 100


def test_will_keepalive_timeout_fast_midge(midge):
    """Keep-alive 1 s: the will follows within 1.5 x keep-alive (plus slack)."""
    with watcher(midge) as w:
        c = with_will(midge, keepalive=1)
        t0 = time.monotonic()
        assert w.recv_publish(timeout=4).payload == b"gone"
        assert time.monotonic() - t0 <= 3.0
        c.close()


def test_v5_takeover_sends_will_without_delay(any_broker):
    with watcher(any_broker, version=5) as w:
        old = with_will(any_broker, "tk-now", version=5)
        new = R.connected(any_broker.port, "tk-now", version=5)
        try:
            assert w.recv_publish().payload == b"gone"
        finally:
            old.close()
            new.disconnect()


def test_v5_takeover_within_will_delay_keeps_will(any_broker):
    """The session continues on the new connection before the Will Delay
    passes, so the will is not sent."""
    with watcher(any_broker, version=5) as w:
        old = with_will(any_broker, "tk-later", version=5, properties=[(R.SESSION_EXPIRY, 60)],
                        will_props=[(R.WILL_DELAY, 2)])
        new = R.connected(any_broker.port, "tk-later", version=5, clean=False,
                          properties=[(R.SESSION_EXPIRY, 60)])
        try:
            w.nothing(2.8)
        finally:
            old.close()
            new.disconnect()


def test_v5_will_qos2_retained(any_broker):
    c = with_will(any_broker, "w2", version=5, qos=2, retain=True,
                  will_props=[(R.USER_PROPERTY, ("why", "test"))])
    c.close()
    time.sleep(0.3)
    with R.connected(any_broker.port, "late", version=5) as s:
        s.subscribe([("will/t", 2)])
        m = s.recv_publish()
        assert (m.payload, m.qos, m.retain) == (b"gone", 2, True)
        assert m.props.all(R.USER_PROPERTY) == [("why", "test")]
