"""PUBLISH at QoS 0/1/2 in both directions: acks, exactly-once, downgrade to
the subscription's QoS, order, DUP redelivery, Receive Maximum."""

import socket
import time

import pytest

import mqttraw as R
from peers import V5, V311, Paho, mosquitto_sub, pub_until_received, sub_output


@pytest.mark.parametrize("sub_qos", [0, 1, 2])
@pytest.mark.parametrize("pub_qos", [0, 1, 2])
def test_qos_matrix_downgrade(any_broker, pub_qos, sub_qos):
    with R.connected(any_broker.port, "sub") as s, R.connected(any_broker.port, "pub") as p:
        assert s.subscribe([("m/q", sub_qos)]).codes == [sub_qos]
        p.publish("m/q", b"payload-%d" % pub_qos, qos=pub_qos)
        m = s.recv_publish()
        assert (m.topic, m.payload, m.qos) == ("m/q", b"payload-%d" % pub_qos,
                                               min(pub_qos, sub_qos))
        assert not m.retain and not m.dup
        if m.qos:
            assert m.mid != 0
        s.nothing(0.2)


def test_puback_exact_bytes(any_broker):
    with R.connected(any_broker.port, "p") as c:
        c.send(R.publish("x", b"1", qos=1, mid=0x1234))
        c.sock.settimeout(5)
        assert c.sock.recv(4) == b"\x40\x02\x12\x34"


def test_qos2_exact_flow(any_broker):
    with R.connected(any_broker.port, "p") as c:
        c.send(R.publish("x", b"1", qos=2, mid=0x0102))
        c.sock.settimeout(5)
        assert c.sock.recv(4) == b"\x50\x02\x01\x02"
        c.send(R.ack(R.PUBREL, 0x0102))
        assert c.sock.recv(4) == b"\x70\x02\x01\x02"


@pytest.mark.parametrize("version", [4, 5])
def test_qos2_exactly_once_on_duplicate_publish(any_broker, version):
    with R.connected(any_broker.port, "s", version=version) as s, \
            R.connected(any_broker.port, "p", version=version) as p:
        s.subscribe([("eo", 2)])
        p.send(R.publish("eo", b"once", qos=2, mid=7, version=version))
        assert p.expect(R.PUBREC).mid == 7
        # the publisher did not see the PUBREC and resends with DUP
        p.send(R.publish("eo", b"once", qos=2, mid=7, dup=True, version=version))
        assert p.expect(R.PUBREC).mid == 7
        p.send(R.ack(R.PUBREL, 7, version))
        assert p.expect(R.PUBCOMP).mid == 7
        assert s.recv_publish().payload == b"once"
        s.nothing(0.5)


def test_qos2_outbound_flow(any_broker):
    with R.connected(any_broker.port, "s") as s, R.connected(any_broker.port, "p") as p:
        s.subscribe([("q2", 2)])
        p.publish("q2", b"x", qos=2)
        m = s.expect(R.PUBLISH)
        assert m.qos == 2
        s.send(R.ack(R.PUBREC, m.mid))
        rel = s.expect(R.PUBREL)
        assert rel.mid == m.mid and rel.flags == 2
        s.send(R.ack(R.PUBCOMP, m.mid))
        s.nothing(0.3)


@pytest.mark.parametrize("version", [V311, V5])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_paho_in_order_delivery(any_broker, version, qos):
    n = 100
    s = Paho(any_broker, "sub-order", version=version)
    p = Paho(any_broker, "pub-order", version=version)
    try:
        s.subscribe("order/t", 2)
        infos = [p.publish("order/t", "%d" % i, qos, wait=False) for i in range(n)]
        for info in infos:
            info.wait_for_publish(5)
        got = s.get_n(n, timeout=10)
        assert [m.payload.decode() for m in got] == ["%d" % i for i in range(n)]
        assert {m.qos for m in got} == {qos}
    finally:
        p.disconnect()
        s.disconnect()


def test_in_order_across_qos_levels(any_broker):
    with R.connected(any_broker.port, "s") as s, R.connected(any_broker.port, "p") as p:
        s.subscribe([("mix", 2)])
        for i in range(30):
            p.publish("mix", b"%d" % i, qos=i % 3)
        got = [s.recv_publish().payload for _ in range(30)]
        assert got == [b"%d" % i for i in range(30)]


def test_mosquitto_clients_qos2(any_broker):
    sub = mosquitto_sub(any_broker.port, "cli/q2", count=1, extra=["-q", "2"])
    pub_until_received(any_broker.port, "cli/q2", "hello-q2", sub, extra=["-q", "2"])
    rc, out, err = sub_output(sub)
    assert rc == 0 and out == "hello-q2\n", err


@pytest.mark.parametrize("qos", [1, 2])
def test_dup_redelivery_on_session_resume(any_broker, qos):
    s = R.connected(any_broker.port, "resume-%d" % qos, clean=False)
    s.subscribe([("dup/t", qos)])
    with R.connected(any_broker.port, "p") as p:
        p.publish("dup/t", b"unacked", qos=qos)
    first = s.expect(R.PUBLISH)
    assert not first.dup
    s.close()  # no PUBACK / PUBREC
    with R.Client(any_broker.port) as s2:
        ca = s2.connect("resume-%d" % qos, clean=False)
        assert ca.session_present
        again = s2.expect(R.PUBLISH)
        assert (again.dup, again.mid, again.payload, again.qos) == (True, first.mid,
                                                                    b"unacked", qos)
        if qos == 1:
            s2.send(R.ack(R.PUBACK, again.mid))
        else:
            s2.send(R.ack(R.PUBREC, again.mid))
            assert s2.expect(R.PUBREL).mid == again.mid
            s2.send(R.ack(R.PUBCOMP, again.mid))
        s2.nothing(0.3)


def test_pubrel_resent_on_session_resume(any_broker):
    s = R.connected(any_broker.port, "resume-rel", clean=False)
    s.subscribe([("rel/t", 2)])
    with R.connected(any_broker.port, "p") as p:
        p.publish("rel/t", b"x", qos=2)
    m = s.expect(R.PUBLISH)
    s.send(R.ack(R.PUBREC, m.mid))
    assert s.expect(R.PUBREL).mid == m.mid
    s.close()  # no PUBCOMP
    with R.Client(any_broker.port) as s2:
        assert s2.connect("resume-rel", clean=False).session_present
        rel = s2.expect(R.PUBREL)
        assert rel.mid == m.mid
        s2.send(R.ack(R.PUBCOMP, m.mid))
        s2.nothing(0.3)


def test_v5_receive_maximum_1_honoured(any_broker):
    with R.Client(any_broker.port, version=5) as s, \
            R.connected(any_broker.port, "p", version=5) as p:
        assert s.connect("rm-sub", properties=[(R.RECEIVE_MAXIMUM, 1)]).reason == 0
        s.subscribe([("rm/t", 1)])
        for i in range(3):
            p.publish("rm/t", b"%d" % i, qos=1)
        got = []
        for _ in range(3):
            m = s.expect(R.PUBLISH)
            s.nothing(0.3)  # a second in flight would exceed Receive Maximum 1
            got.append(m.payload)
            s.send(R.ack(R.PUBACK, m.mid, 5))
        assert got == [b"0", b"1", b"2"]


def test_v5_receive_maximum_2_honoured_midge(midge):
    """Mosquitto 2.0.11 refills the whole window on each PUBACK (with Receive
    Maximum 2 it has 3 in flight after one ack), so this one is midge-only."""
    with R.Client(midge.port, version=5) as s, R.connected(midge.port, "p", version=5) as p:
        assert s.connect("rm-sub", properties=[(R.RECEIVE_MAXIMUM, 2)]).reason == 0
        s.subscribe([("rm/t", 1)])
        for i in range(5):
            p.publish("rm/t", b"%d" % i, qos=1)
        a = s.expect(R.PUBLISH)
        b = s.expect(R.PUBLISH)
        s.nothing(0.5)
        s.send(R.ack(R.PUBACK, a.mid, 5))
        c = s.expect(R.PUBLISH)
        s.nothing(0.3)
        s.send(R.ack(R.PUBACK, b.mid, 5) + R.ack(R.PUBACK, c.mid, 5))
        d = s.expect(R.PUBLISH)
        e = s.expect(R.PUBLISH)
        assert [m.payload for m in (a, b, c, d, e)] == [b"0", b"1", b"2", b"3", b"4"]


def test_v5_puback_no_matching_subscribers(any_broker):
    with R.connected(any_broker.port, "p", version=5) as c:
        assert c.publish("nobody/here", b"x", qos=1).reason == 0x10


def test_v5_receive_maximum_exceeded_disconnect_93_midge(midge):
    """A client that has more unacknowledged QoS 2 PUBLISHes in flight than
    our Receive Maximum gets DISCONNECT 0x93. (Mosquitto 2.0.11 instead
    answers some of the excess PUBRECs with 0x97 and keeps the connection.)"""
    with R.connected(midge.port, "flood", version=5) as c:
        rm = c.connack.props.get(R.RECEIVE_MAXIMUM, 65535)
        assert rm <= 1000
        data = b"".join(R.publish("f", b"x", qos=2, mid=i + 1, version=5) for i in range(rm + 1))
        c.send(data)
        got = c.wait_closed(5)
        assert [p.type for p in got[:rm]] == [R.PUBREC] * rm
        assert (got[-1].type, got[-1].reason) == (R.DISCONNECT, 0x93)


def test_large_payload(any_broker):
    payload = bytes(range(256)) * 1024  # 256 KiB, several reads
    with R.connected(any_broker.port, "s") as s, R.connected(any_broker.port, "p") as p:
        s.subscribe([("big", 1)])
        p.publish("big", payload, qos=1)
        m = s.recv_publish(timeout=10)
        assert m.payload == payload


def test_many_subscribers_one_message(any_broker):
    subs = [R.connected(any_broker.port, "fan-%d" % i) for i in range(20)]
    try:
        for s in subs:
            s.subscribe([("fan/out", 1)])
        with R.connected(any_broker.port, "p") as p:
            p.publish("fan/out", b"all", qos=1)
        for s in subs:
            assert s.recv_publish().payload == b"all"
    finally:
        for s in subs:
            s.close()


def test_qos2_exactly_once_across_publisher_reconnect(any_broker):
    """The publisher's QoS 2 state survives its reconnection: the resent
    PUBLISH (DUP) after PUBREC is not delivered a second time."""
    with R.connected(any_broker.port, "w") as w:
        w.subscribe([("eo/r", 2)])
        c = R.connected(any_broker.port, "pub2", clean=False)
        c.send(R.publish("eo/r", b"once", qos=2, mid=9))
        assert c.expect(R.PUBREC).mid == 9
        c.close()
        with R.Client(any_broker.port) as c2:
            assert c2.connect("pub2", clean=False).session_present
            c2.send(R.publish("eo/r", b"once", qos=2, mid=9, dup=True))
            assert c2.expect(R.PUBREC).mid == 9
            c2.send(R.ack(R.PUBREL, 9))
            assert c2.expect(R.PUBCOMP).mid == 9
        assert w.recv_publish().payload == b"once"
        w.nothing(0.5)


def test_slow_reader_does_not_block_others(any_broker):
    """A subscriber that never reads must not stall delivery to others."""
    slow = R.Client(any_broker.port)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    fast = Paho(any_broker, "fast", version=V311)
    try:
        assert slow.connect("slow").reason == 0
        slow.subscribe([("flood/#", 0)])
        fast.subscribe("flood/#", 1)
        with R.connected(any_broker.port, "p") as p:
            blob = b"z" * 10000
            t0 = time.monotonic()
            for i in range(300):
                p.publish("flood/x", blob + b"%d" % i, qos=1)
            got = fast.get_n(300, timeout=20)
            assert [m.payload for m in got] == [blob + b"%d" % i for i in range(300)]
            assert time.monotonic() - t0 < 20
    finally:
        fast.disconnect()
        slow.close()


@pytest.mark.parametrize("sub_version", [3, 4, 5])
@pytest.mark.parametrize("pub_version", [3, 4, 5])
def test_versions_interoperate(any_broker, pub_version, sub_version):
    with R.connected(any_broker.port, "sub-v%d" % sub_version, version=sub_version) as s, \
            R.connected(any_broker.port, "pub-v%d" % pub_version, version=pub_version) as p:
        s.subscribe([("ver/t", 2)])
        props = [(R.USER_PROPERTY, ("k", "v"))] if pub_version == 5 else None
        p.publish("ver/t", b"across", qos=2, properties=props)
        m = s.recv_publish()
        assert (m.topic, m.payload, m.qos) == ("ver/t", b"across", 2)
        if sub_version == 5 and pub_version == 5:
            assert m.props.all(R.USER_PROPERTY) == [("k", "v")]


@pytest.mark.parametrize("version", [4, 5])
def test_pubrel_for_unknown_packet_id(any_broker, version):
    """PUBREL for an id the broker does not hold is still completed
    (Mosquitto: PUBCOMP success; the spec's v5 answer is 0x92)."""
    with R.connected(any_broker.port, "rel", version=version) as c:
        c.send(R.ack(R.PUBREL, 77, version))
        comp = c.expect(R.PUBCOMP)
        assert comp.mid == 77 and comp.reason in (0, 0x92)
        c.ping()


def test_zero_length_payload_delivered(any_broker):
    with R.connected(any_broker.port, "s") as s, R.connected(any_broker.port, "p") as p:
        s.subscribe([("empty/t", 1)])
        p.publish("empty/t", b"", qos=1)
        m = s.recv_publish()
        assert m.payload == b"" and not m.retain


def test_longest_topic_name(any_broker):
    topic = "t" * 65535
    with R.connected(any_broker.port, "s") as s, R.connected(any_broker.port, "p") as p:
        s.subscribe([("#", 1)])
        p.publish(topic, b"long", qos=1)
        m = s.recv_publish()
        assert (len(m.topic), m.payload) == (65535, b"long")


def test_many_publishers_order_per_publisher(any_broker):
    """Publishers on different connections (and, in midge, different worker
    threads) to shared subscribers: every message arrives once, each
    publisher's messages in order."""
    subs = [Paho(any_broker, "ms-%d" % i, version=V311) for i in range(4)]
    pubs = [Paho(any_broker, "mp-%d" % i, version=V5) for i in range(6)]
    try:
        for s in subs:
            s.subscribe("multi/#", 1)
        infos = []
        for n in range(40):
            for i, p in enumerate(pubs):
                infos.append(p.publish("multi/%d" % i, "%d" % n, 1, wait=False))
        for info in infos:
            info.wait_for_publish(10)
        for s in subs:
            got = s.get_n(240, timeout=15)
            for i in range(6):
                mine = [int(m.payload) for m in got if m.topic == "multi/%d" % i]
                assert mine == list(range(40))
    finally:
        for c in pubs + subs:
            c.disconnect()
