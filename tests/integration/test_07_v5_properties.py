"""MQTT v5 properties: topic aliases both ways, Message Expiry, Maximum
Packet Size both ways, forwarded properties, Server Keep Alive, Request
Problem/Response Information, AUTH."""
import time


import mqttraw as R
from peers import V5, PacketTypes, Paho, props


def pair(broker, sub_props=None, filt="v5/#", qos=1):
    s = R.Client(broker.port, version=5)
    assert s.connect("v5-sub", properties=sub_props).reason == 0
    s.subscribe([(filt, qos)])
    p = R.connected(broker.port, "v5-pub", version=5)
    return s, p


# ---------------------------------------------------------------- topic aliases

def test_client_topic_alias(any_broker):
    s, p = pair(any_broker)
    with s, p:
        p.publish("v5/alias/a", b"1", qos=1, properties=[(R.TOPIC_ALIAS, 1)])
        p.publish("", b"2", qos=1, properties=[(R.TOPIC_ALIAS, 1)])
        p.publish("v5/alias/b", b"3", qos=1, properties=[(R.TOPIC_ALIAS, 1)])  # remap
        p.publish("", b"4", qos=1, properties=[(R.TOPIC_ALIAS, 1)])
        got = [(m.topic, m.payload) for m in (s.recv_publish() for _ in range(4))]
        assert got == [("v5/alias/a", b"1"), ("v5/alias/a", b"2"), ("v5/alias/b", b"3"),
                       ("v5/alias/b", b"4")]
        # the subscriber never allowed aliases: none may be sent to it
        s.nothing(0.2)


def test_client_topic_alias_up_to_maximum(any_broker):
    s, p = pair(any_broker)
    with s, p:
        top = p.connack.props.get(R.TOPIC_ALIAS_MAXIMUM)
        assert top == 10
        for a in range(1, top + 1):
            p.publish("v5/al/%d" % a, b"set", qos=0, properties=[(R.TOPIC_ALIAS, a)])
        for a in range(1, top + 1):
            p.publish("", b"use", qos=1, properties=[(R.TOPIC_ALIAS, a)])
        got = [s.recv_publish() for _ in range(2 * top)]
        assert [m.topic for m in got[top:]] == ["v5/al/%d" % a for a in range(1, top + 1)]


def test_no_alias_sent_without_client_maximum(any_broker):
    s, p = pair(any_broker)
    with s, p:
        for i in range(3):
            p.publish("v5/same", b"%d" % i, qos=1)
        for _ in range(3):
            m = s.recv_publish()
            assert m.topic == "v5/same" and m.props.get(R.TOPIC_ALIAS) is None


def test_alias_to_client_resolves(any_broker):
    """Whatever a broker does with the aliases we allow, resolving them
    gives the right topics and never an alias above our maximum."""
    s, p = pair(any_broker, sub_props=[(R.TOPIC_ALIAS_MAXIMUM, 2)])
    with s, p:
        topics = ["v5/r/%d" % (i % 5) for i in range(20)]
        for i, t in enumerate(topics):
            p.publish(t, b"%d" % i, qos=1)
        aliases = {}
        for i, t in enumerate(topics):
            m = s.recv_publish()
            a = m.props.get(R.TOPIC_ALIAS)
            if a is not None:
                assert 1 <= a <= 2
                if m.topic:
                    aliases[a] = m.topic
                topic = aliases[a]
            else:
                topic = m.topic
            assert (topic, m.payload) == (t, b"%d" % i)


def test_broker_assigns_alias_midge(midge):
    """The issue asks midge to assign aliases towards clients that allow
    them (Mosquitto 2.0.11 never does): the second PUBLISH on a topic
    carries only the alias."""
    s, p = pair(midge, sub_props=[(R.TOPIC_ALIAS_MAXIMUM, 5)])
    with s, p:
        p.publish("v5/assigned", b"1", qos=1)
        p.publish("v5/assigned", b"2", qos=1)
        a, b = s.recv_publish(), s.recv_publish()
        alias = a.props.get(R.TOPIC_ALIAS)
        assert alias is not None, "no Topic Alias assigned"
        assert a.topic == "v5/assigned" and 1 <= alias <= 5
        assert b.topic == "" and b.props.get(R.TOPIC_ALIAS) == alias
        assert b.payload == b"2"


# ---------------------------------------------------------------- message expiry

def test_message_expiry_forwarded_live(any_broker):
    s, p = pair(any_broker)
    with s, p:
        p.publish("v5/exp", b"x", qos=1, properties=[(R.MESSAGE_EXPIRY, 60)])
        m = s.recv_publish()
        assert 58 <= m.props.get(R.MESSAGE_EXPIRY) <= 60


def test_message_expiry_remaining_time_when_queued(any_broker):
    s = R.connected(any_broker.port, "exp-q", version=5, properties=[(R.SESSION_EXPIRY, 60)])
    s.subscribe([("v5/eq", 1)])
    s.disconnect()
    with R.connected(any_broker.port, "p", version=5) as p:
        p.publish("v5/eq", b"soon", qos=1, properties=[(R.MESSAGE_EXPIRY, 1)])
        p.publish("v5/eq", b"later", qos=1, properties=[(R.MESSAGE_EXPIRY, 30)])
    time.sleep(2.2)
    with R.Client(any_broker.port, version=5) as s2:
        assert s2.connect("exp-q", clean=False,
                          properties=[(R.SESSION_EXPIRY, 60)]).session_present
        m = s2.recv_publish()
        assert m.payload == b"later"
        assert 26 <= m.props.get(R.MESSAGE_EXPIRY) <= 28
        s2.nothing(0.3)


def test_retained_message_expires(any_broker):
    with R.connected(any_broker.port, "p", version=5) as p:
        p.publish("v5/rexp", b"brief", qos=1, retain=True,
                  properties=[(R.MESSAGE_EXPIRY, 1)])
    time.sleep(2.2)
    with R.connected(any_broker.port, "s", version=5) as s:
        s.subscribe([("v5/rexp", 1)])
        s.nothing(0.4)


# ---------------------------------------------------------------- packet size

def test_client_maximum_packet_size_respected(any_broker):
    s, p = pair(any_broker, sub_props=[(R.MAXIMUM_PACKET_SIZE, 64)])
    with s, p:
        p.publish("v5/mp", b"x" * 200, qos=1)
        p.publish("v5/mp", b"small", qos=1)
        m = s.recv_publish()
        assert m.payload == b"small"
        s.nothing(0.3)


def test_server_maximum_packet_size(configured_broker):
    b = configured_broker("max_packet_size 1000")
    with R.connected(b.port, "big", version=5) as c:
        assert c.connack.props.get(R.MAXIMUM_PACKET_SIZE) == 1000
        c.publish("v5/ok", b"x" * 500, qos=1)
        c.send(R.publish("v5/big", b"x" * 2000, version=5))
        assert [(p.type, p.reason) for p in c.wait_closed(3)] == [(R.DISCONNECT, 0x95)]


# ---------------------------------------------------------------- forwarded properties

def test_properties_forwarded(any_broker):
    s, p = pair(any_broker)
    sent = [(R.PAYLOAD_FORMAT, 1), (R.CONTENT_TYPE, "application/json"),
            (R.RESPONSE_TOPIC, "v5/reply"), (R.CORRELATION_DATA, b"\x00corr\xff"),
            (R.USER_PROPERTY, ("k", "1")), (R.USER_PROPERTY, ("z", "2")),
            (R.USER_PROPERTY, ("k", "3")), (R.USER_PROPERTY, ("a", ""))]
    with s, p:
        p.publish("v5/props", b"{}", qos=1, properties=sent)
        m = s.recv_publish()
        assert m.props.get(R.PAYLOAD_FORMAT) == 1
        assert m.props.get(R.CONTENT_TYPE) == "application/json"
        assert m.props.get(R.RESPONSE_TOPIC) == "v5/reply"
        assert m.props.get(R.CORRELATION_DATA) == b"\x00corr\xff"
        assert m.props.all(R.USER_PROPERTY) == [("k", "1"), ("z", "2"), ("k", "3"), ("a", "")]


def test_properties_forwarded_paho_request_response(any_broker):
    """Request/response the v5 way, with paho on both sides."""
    server = Paho(any_broker, "responder", version=V5)
    client = Paho(any_broker, "requester", version=V5)
    try:
        server.subscribe("svc/request", 1)
        client.subscribe("svc/reply/requester", 1)
        client.publish("svc/request", "2+2", 1, properties=props(
            PacketTypes.PUBLISH, ResponseTopic="svc/reply/requester", CorrelationData=b"42",
            UserProperty=[("trace", "abc")]))
        req = server.get()
        assert req.properties.ResponseTopic == "svc/reply/requester"
        assert req.properties.UserProperty == [("trace", "abc")]
        server.publish(req.properties.ResponseTopic, "4", 1, properties=props(
            PacketTypes.PUBLISH, CorrelationData=req.properties.CorrelationData))
        rep = client.get()
        assert rep.payload == b"4" and rep.properties.CorrelationData == b"42"
    finally:
        client.disconnect()
        server.disconnect()


def test_v311_subscriber_gets_no_properties(any_broker):
    with R.connected(any_broker.port, "old", version=4) as s, \
            R.connected(any_broker.port, "new", version=5) as p:
        s.subscribe([("mix/v", 1)])
        p.publish("mix/v", b"body", qos=1, properties=[(R.USER_PROPERTY, ("k", "v")),
                                                        (R.CONTENT_TYPE, "t")])
        m = s.recv_publish()
        assert m.payload == b"body" and m.body.endswith(b"body")


# ---------------------------------------------------------------- connection properties

def test_server_keep_alive(configured_broker):
    b = configured_broker("max_keepalive 10")
    with R.connected(b.port, "ka", version=5, keepalive=60) as c:
        assert c.connack.props.get(R.SERVER_KEEP_ALIVE) == 10
    with R.connected(b.port, "ka2", version=5, keepalive=5) as c:
        assert c.connack.props.get(R.SERVER_KEEP_ALIVE) is None


def test_request_response_information_accepted(any_broker):
    with R.Client(any_broker.port, version=5) as c:
        ca = c.connect("rri", properties=[(R.REQUEST_RESPONSE_INFO, 1)])
        assert ca.reason == 0
        info = ca.props.get(R.RESPONSE_INFO)
        assert info is None or isinstance(info, str)


def test_request_problem_information_zero(any_broker):
    """With Request Problem Information 0 the server sends no Reason String
    or User Property except on PUBLISH, CONNACK and DISCONNECT."""
    with R.Client(any_broker.port, version=5) as c:
        assert c.connect("rpi", properties=[(R.REQUEST_PROBLEM_INFO, 0)]).reason == 0
        sa = c.subscribe([("ok/t", 1)])
        ua = c.unsubscribe(["never/subscribed"])
        pa = c.publish("nobody/listens", b"x", qos=1)
        for pkt in (sa, ua, pa):
            assert pkt.props.get(R.REASON_STRING) is None
            assert pkt.props.all(R.USER_PROPERTY) == []


def test_connect_with_authentication_method_rejected(any_broker):
    with R.Client(any_broker.port, version=5) as c:
        c.send(R.connect("auth", version=5, properties=[(R.AUTH_METHOD, "SCRAM-SHA-1")]))
        got = c.wait_closed(3)
        assert [(p.type, p.reason) for p in got] == [(R.CONNACK, 0x8C)]


def test_auth_packet_without_method(any_broker):
    with R.connected(any_broker.port, "auth2", version=5) as c:
        c.send(R.auth(0x19, [(R.AUTH_METHOD, "SCRAM-SHA-1")]))
        got = [(p.type, p.reason) for p in c.wait_closed(3)]
        assert got in ([], [(R.DISCONNECT, 0x82)], [(R.DISCONNECT, 0x8C)])


def test_assigned_client_id_usable_for_session(any_broker):
    with R.Client(any_broker.port, version=5) as c:
        ca = c.connect("", clean=True, properties=[(R.SESSION_EXPIRY, 60)])
        cid = ca.props.get(R.ASSIGNED_CLIENT_ID)
        c.subscribe([("v5/assigned", 1)])
        c.disconnect()
    with R.Client(any_broker.port, version=5) as c2:
        assert c2.connect(cid, clean=False,
                          properties=[(R.SESSION_EXPIRY, 60)]).session_present


def test_declared_length_over_maximum_refused_early(configured_broker):
    """A PUBLISH whose header announces more than the broker's maximum
    packet size is refused before its body arrives."""
    b = configured_broker("max_packet_size 1000")
    with R.connected(b.port, "early", version=5) as c:
        c.send(b"\x30\x80\x80\x40")  # 1 MiB announced, nothing sent
        assert [(p.type, p.reason) for p in c.wait_closed(3)] == [(R.DISCONNECT, 0x95)]
    with R.connected(b.port, "early4", version=4) as c:
        c.send(b"\x30\x80\x80\x40")
        assert c.wait_closed(3) == []


# ---------------------------------------------------------------- CONNACK as Mosquitto

def test_assigned_client_id_format(any_broker):
    """Mosquitto's format: auto- and a UUID in upper-case hex."""
    import re
    with R.connected(any_broker.port, "", version=5) as c:
        cid = c.connack.props.get(R.ASSIGNED_CLIENT_ID)
        assert re.fullmatch(r"auto-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}",
                            cid), cid


def test_connack_property_order_default(any_broker):
    with R.connected(any_broker.port, "", version=5) as c:
        assert [k for k, _ in c.connack.props] == [R.TOPIC_ALIAS_MAXIMUM, R.ASSIGNED_CLIENT_ID,
                                                   R.RECEIVE_MAXIMUM]
    with R.connected(any_broker.port, "named", version=5) as c:
        assert c.connack.props == [(R.TOPIC_ALIAS_MAXIMUM, 10), (R.RECEIVE_MAXIMUM, 20)]


def test_connack_property_order_with_limits(configured_broker):
    b = configured_broker("max_keepalive 10\nmax_packet_size 1000\nmax_inflight_messages 5")
    with R.connected(b.port, "limited", version=5, keepalive=60) as c:
        assert c.connack.props == [(R.TOPIC_ALIAS_MAXIMUM, 10), (R.SERVER_KEEP_ALIVE, 10),
                                   (R.MAXIMUM_PACKET_SIZE, 1000), (R.RECEIVE_MAXIMUM, 5)]
