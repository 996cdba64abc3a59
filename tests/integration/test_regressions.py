"""Regressions found outside the per-area suites (benchmarks, reviews)."""
import mqttraw as raw


def test_v311_client_with_many_unreleased_qos2_messages_is_not_disconnected(any_broker):
    """Receive Maximum is a v5 concept: a 3.1.1 client holding 200 QoS 2
    messages before releasing any (as a windowed publisher does) must not be
    disconnected. midge once applied its v5 receive maximum here."""
    pub = raw.connected(any_broker.port, "tx", version=4)
    mids = list(range(1, 201))
    for mid in mids:
        pub.send(raw.publish("q2/t", b"m%d" % mid, qos=2, mid=mid, version=4))
    for mid in mids:
        rec = pub.expect(raw.PUBREC)
        assert rec.mid == mid
    for mid in mids:
        pub.send(raw.ack(raw.PUBREL, mid, 4))
    for mid in mids:
        assert pub.expect(raw.PUBCOMP).mid == mid
    assert pub.is_open()
    pub.disconnect()
