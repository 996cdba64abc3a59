"""CONNECT/CONNACK for MQTT 3.1, 3.1.1 and 5.0: client id rules, session
takeover, keep-alive, the CONNECT deadline."""
import time

import pytest

import mqttraw as R
from peers import V5, V311, Paho


def test_connect_v31_exact_connack(any_broker):
    with R.Client(any_broker.port, version=3) as c:
        c.send(R.connect("v31client", version=3))
        assert c.recv().body == b"\x00\x00"


def test_connect_v311_exact_connack(any_broker):
    with R.Client(any_broker.port) as c:
        c.send(R.connect("v311client"))
        c.sock.settimeout(5)
        assert c.sock.recv(4) == b"\x20\x02\x00\x00"


def test_connect_v5_connack(any_broker):
    with R.Client(any_broker.port, version=5) as c:
        ca = c.connect("v5client")
        assert ca.reason == 0 and not ca.session_present
        # no Assigned Client Identifier when the client chose one
        assert ca.props.get(R.ASSIGNED_CLIENT_ID) is None


def test_connect_v311_long_client_id(any_broker):
    cid = "x" * 100
    with R.connected(any_broker.port, cid) as c:
        c.ping()


def test_v311_empty_id_without_clean_session_rejected(any_broker):
    with R.Client(any_broker.port) as c:
        c.send(R.connect("", clean=False))
        got = c.wait_closed()
        assert [(p.type, p.body) for p in got] == [(R.CONNACK, b"\x00\x02")]


def test_v311_empty_id_with_clean_session_assigned(any_broker):
    with R.Client(any_broker.port) as c:
        assert c.connect("", clean=True).reason == 0
        c.ping()


def test_v5_empty_id_assigned_client_identifier(any_broker):
    with R.Client(any_broker.port, version=5) as c:
        ca = c.connect("", clean=True)
        assert ca.reason == 0
        assigned = ca.props.get(R.ASSIGNED_CLIENT_ID)
        assert assigned and assigned.startswith("auto-"), ca
    with R.Client(any_broker.port, version=5) as c2:
        other = c2.connect("").props.get(R.ASSIGNED_CLIENT_ID)
        assert other != assigned


def test_v5_empty_id_without_clean_start_assigned(any_broker):
    # v5 lets the server assign an id whatever Clean Start says
    with R.Client(any_broker.port, version=5) as c:
        ca = c.connect("", clean=False)
        assert ca.reason == 0
        assert ca.props.get(R.ASSIGNED_CLIENT_ID).startswith("auto-")


def test_v311_session_takeover_closes_old(any_broker):
    old = R.connected(any_broker.port, "same-id")
    new = R.connected(any_broker.port, "same-id")
    try:
        assert old.wait_closed(3) == []
        new.ping()
    finally:
        old.close()
        new.close()


def test_v5_session_takeover_closes_old(any_broker):
    old = R.connected(any_broker.port, "same-id-5", version=5)
    new = R.connected(any_broker.port, "same-id-5", version=5)
    try:
        got = old.wait_closed(3)
        assert [(p.type, p.reason) for p in got] in ([], [(R.DISCONNECT, 0x8E)])
        new.ping()
    finally:
        old.close()
        new.close()


def test_v5_session_takeover_disconnect_8e_midge(midge):
    """The spec (3.1.4) has the server send DISCONNECT 0x8E to the old
    connection; Mosquitto 2.0.11 only closes it, so this one is midge-only."""
    old = R.connected(midge.port, "same-id-5", version=5)
    new = R.connected(midge.port, "same-id-5", version=5)
    try:
        got = old.wait_closed(3)
        assert [(p.type, p.reason) for p in got] == [(R.DISCONNECT, 0x8E)]
        new.ping()
    finally:
        old.close()
        new.close()


def test_takeover_across_versions(any_broker):
    old = R.connected(any_broker.port, "mixed-id", version=4)
    new = R.connected(any_broker.port, "mixed-id", version=5)
    try:
        assert old.wait_closed(3) == []
        new.ping()
    finally:
        old.close()
        new.close()


def test_keepalive_enforced(any_broker):
    """Mosquitto 2.0.11 checks keep-alive coarsely (a keep-alive of 1 s
    closes after 4-6 s); both brokers must close eventually."""
    with R.connected(any_broker.port, "ka-any", keepalive=1) as c:
        t0 = time.monotonic()
        assert c.wait_closed(9) == []
    assert time.monotonic() - t0 >= 1.4


@pytest.mark.parametrize("version", [4, 5])
def test_keepalive_enforced_at_one_and_a_half_midge(midge, version):
    with R.connected(midge.port, "ka-%d" % version, version=version, keepalive=1) as c:
        t0 = time.monotonic()
        got = c.wait_closed(4)
        elapsed = time.monotonic() - t0
    assert elapsed >= 1.4, "closed after %.2fs, before 1.5 x keep-alive" % elapsed
    assert elapsed <= 3.5, "closed only after %.2fs" % elapsed
    if version == 5:
        assert [(p.type, p.reason) for p in got] in ([], [(R.DISCONNECT, 0x8D)])
    else:
        assert got == []


def test_keepalive_pings_keep_connection(any_broker):
    with R.connected(any_broker.port, "pinger", keepalive=1) as c:
        for _ in range(6):
            time.sleep(0.5)
            c.ping()


def test_keepalive_any_packet_counts(any_broker):
    with R.connected(any_broker.port, "talker", keepalive=1) as c:
        for i in range(6):
            time.sleep(0.5)
            c.publish("ka/traffic", b"%d" % i, qos=1)


def test_keepalive_zero_never_times_out(any_broker):
    with R.connected(any_broker.port, "idle", keepalive=0) as c:
        assert c.is_open(2.5)
        c.ping()


def test_paho_v311_connect(any_broker):
    p = Paho(any_broker, "paho311", version=V311)
    assert p.rc == 0 and not p.session_present
    p.disconnect()


def test_paho_v5_connect(any_broker):
    p = Paho(any_broker, "paho5", version=V5)
    assert p.rc == 0
    p.disconnect()


def test_v5_connack_default_properties(any_broker):
    """Mosquitto 2.0 advertises Topic Alias Maximum 10 and no Receive
    Maximum (65535) by default; tools written against it rely on aliases."""
    with R.connected(any_broker.port, "props", version=5) as c:
        assert c.connack.props.get(R.TOPIC_ALIAS_MAXIMUM) == 10
        assert c.connack.props.get(R.RECEIVE_MAXIMUM, 65535) >= 20


def test_password_without_username_v311_closed(any_broker):
    with R.Client(any_broker.port) as c:
        c.send(R.connect("pw", password="secret"))
        got = c.wait_closed(3)
        assert [p.type for p in got] in ([], [R.CONNACK])


def test_v5_keepalive_zero_gets_server_keep_alive(any_broker):
    """Like Mosquitto, a v5 client asking for no keep-alive is told the
    broker's maximum (65535 by default) in Server Keep Alive."""
    with R.connected(any_broker.port, "ka0", version=5, keepalive=0) as c:
        assert c.connack.props.get(R.SERVER_KEEP_ALIVE) == 65535


def test_connect_sent_byte_by_byte(any_broker):
    data = R.connect("slowpoke", keepalive=30)
    with R.Client(any_broker.port) as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.005)
        assert c.expect(R.CONNACK).reason == 0
        c.ping()


def test_packets_coalesced_in_one_write(any_broker):
    with R.Client(any_broker.port) as c:
        c.send(R.connect("burst") + R.subscribe(1, [("burst/t", 1)]) +
               R.publish("burst/t", b"self", qos=1, mid=2) + R.pingreq())
        assert c.expect(R.CONNACK).reason == 0
        assert c.expect(R.SUBACK).codes == [1]
        got = {}
        for _ in range(3):
            p = c.recv()
            got[p.type] = p
        assert set(got) == {R.PUBACK, R.PUBLISH, R.PINGRESP}
        assert got[R.PUBLISH].payload == b"self"


def test_takeover_storm_same_client_id(any_broker):
    """Many connections racing for one client id (in midge, across worker
    threads): the broker survives and the last one to connect is served."""
    import threading

    errors = []

    def racer(n):
        try:
            for i in range(10):
                c = R.Client(any_broker.port, version=4 + (n + i) % 2, timeout=5)
                c.send(R.connect("contested", version=c.version, clean=(i % 2 == 0)))
                try:
                    c.recv(2)
                except (R.Closed, R.Timeout):
                    pass
                c.close()
        except Exception as e:  # noqa: B902 - reported below
            errors.append(e)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with R.connected(any_broker.port, "contested") as c:
        c.ping()


def test_many_simultaneous_connections(any_broker):
    clients = []
    try:
        for i in range(200):
            c = R.Client(any_broker.port)
            c.send(R.connect("crowd-%d" % i, version=4 + i % 2))
            clients.append(c)
        for c in clients:
            assert c.expect(R.CONNACK).reason == 0
        for c in clients[::17]:
            c.ping()
    finally:
        for c in clients:
            c.close()
