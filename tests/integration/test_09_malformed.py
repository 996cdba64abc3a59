"""Malformed and out-of-order input, byte by byte, expecting the exact answer.

Each case's expectation is what Mosquitto 2.0.11 does (checked against it);
the issue asks midge to pick Mosquitto's answer where the specification
leaves a choice. In v3.1.1 the answer to a malformed packet is a close
without a word; in v5 it is a DISCONNECT with a reason code, where Mosquitto
sends one. Cases where Mosquitto deviates from the specification are
midge-only and expect the specification's answer.
"""
import pytest

import mqttraw as R

P = R.packet


def answer(broker, data, version=4, connect_first=True, timeout=3.0):
    """Sends `data` (after a successful CONNECT if asked) and returns the
    packets received before the broker closed the connection, as
    (type, body bytes) pairs. Fails if the connection stays open."""
    with R.Client(broker.port, version=version, timeout=timeout) as c:
        if connect_first:
            assert c.connect("malformed", clean=True).reason == 0
        c.send(data)
        return [(p.type, p.body) for p in c.wait_closed(timeout)]


def v5_disconnect(code):
    return [(R.DISCONNECT, bytes([code]))]


CLOSE = []


# ---------------------------------------------------------------- CONNECT

def raw_connect(name="MQTT", level=4, flags=0x02, v5props=False, client_id="c"):
    body = R.mqstr(name) + bytes([level, flags]) + R.u16(60)
    if v5props:
        body += b"\x00"
    return P(R.CONNECT, 0, body + R.mqstr(client_id))


@pytest.mark.parametrize("level", [2, 6, 0x83])
def test_bad_protocol_level_connack_01(any_broker, level):
    # the level byte is what the broker cannot parse, so the answer is in
    # the oldest format it knows: CONNACK "unacceptable protocol version"
    got = answer(any_broker, raw_connect(level=level), connect_first=False)
    assert got == [(R.CONNACK, b"\x00\x01")]


def test_v31_name_with_level_4_connack_01(any_broker):
    got = answer(any_broker, raw_connect(name="MQIsdp", level=4), connect_first=False)
    assert got == [(R.CONNACK, b"\x00\x01")]


def test_bad_protocol_name_v311_closed(any_broker):
    assert answer(any_broker, raw_connect(name="MQTX", level=4), connect_first=False) == CLOSE


def test_bad_protocol_name_v5_closed(any_broker):
    got = answer(any_broker, raw_connect(name="MQTX", level=5, v5props=True),
                 connect_first=False, version=5)
    assert got in (CLOSE, [(R.CONNACK, b"\x00\x84\x00")])


@pytest.mark.parametrize("version", [4, 5])
def test_connect_fixed_header_flags(any_broker, version):
    data = bytes([0x11]) + R.connect("a", version=version)[1:]
    assert answer(any_broker, data, version, connect_first=False) == CLOSE


@pytest.mark.parametrize("version", [4, 5])
def test_connect_reserved_flag_bit(any_broker, version):
    data = R.connect("a", version=version, flags_extra=0x01)
    assert answer(any_broker, data, version, connect_first=False) == CLOSE


@pytest.mark.parametrize("flags", [0x18 | 0x04, 0x08, 0x20], ids=["will-qos3", "qos-no-will",
                                                                 "retain-no-will"])
def test_connect_will_flag_rules(any_broker, flags):
    data = R.connect("a", flags_extra=flags)
    if flags & 0x04:
        data = R.connect("a", will={"topic": "w", "qos": 3})
    assert answer(any_broker, data, connect_first=False) == CLOSE


@pytest.mark.parametrize("version", [4, 5])
def test_remaining_length_over_four_bytes_on_connect(any_broker, version):
    data = b"\x10\xff\xff\xff\xff\x01"
    assert answer(any_broker, data, version, connect_first=False) == CLOSE


@pytest.mark.parametrize("version", [4, 5])
def test_remaining_length_over_four_bytes_after_connect(any_broker, version):
    # Mosquitto closes without a DISCONNECT even in v5: the framing is lost
    data = b"\x30\xff\xff\xff\xff\x01"
    assert answer(any_broker, data, version) == CLOSE


@pytest.mark.parametrize("version", [4, 5])
def test_connect_string_past_remaining_length(any_broker, version):
    whole = R.connect("abc", version=version)
    body = whole[2:-5] + R.u16(50) + b"abc"
    assert answer(any_broker, P(R.CONNECT, 0, body), version, connect_first=False) == CLOSE


@pytest.mark.parametrize("client_id", [b"\xc0\x80", b"a\x00b", b"\xed\xa0\x80", b"\xff"],
                         ids=["overlong", "nul", "surrogate", "ff"])
@pytest.mark.parametrize("version", [4, 5])
def test_connect_invalid_utf8_client_id(any_broker, version, client_id):
    data = R.connect(client_id, version=version)
    assert answer(any_broker, data, version, connect_first=False) == CLOSE


def test_v5_connect_unknown_property(any_broker):
    body = R.mqstr("MQTT") + bytes([5, 2]) + R.u16(60) + b"\x02\x7f\x00" + R.mqstr("a")
    assert answer(any_broker, P(R.CONNECT, 0, body), 5, connect_first=False) == CLOSE


@pytest.mark.parametrize("properties", [
    [(R.SESSION_EXPIRY, 1), (R.SESSION_EXPIRY, 2)],
    [(R.RECEIVE_MAXIMUM, 0)],
    [(R.MAXIMUM_PACKET_SIZE, 0)],
], ids=["duplicate", "receive-max-0", "max-packet-0"])
def test_v5_connect_bad_property(any_broker, properties):
    data = R.connect("a", version=5, properties=properties)
    assert answer(any_broker, data, 5, connect_first=False) == CLOSE


@pytest.mark.parametrize("version", [4, 5])
def test_second_connect(any_broker, version):
    assert answer(any_broker, R.connect("again", version=version), version) == CLOSE


@pytest.mark.parametrize("first", [R.publish("a", b"x"), R.pingreq(), R.subscribe(1, ["a"]),
                                   R.disconnect()], ids=["publish", "pingreq", "subscribe",
                                                         "disconnect"])
def test_packet_before_connect(any_broker, first):
    assert answer(any_broker, first, connect_first=False) == CLOSE


def test_v311_empty_client_id_v31_rejected(any_broker):
    got = answer(any_broker, R.connect("", version=3), 3, connect_first=False)
    assert got == [(R.CONNACK, b"\x00\x02")]


# ---------------------------------------------------------------- PUBLISH

PUBLISH_CASES = {
    # name: (bytes for v4, bytes for v5, Mosquitto's v5 reason code)
    "topic-invalid-utf8": (R.publish(b"a/\xff", b"x"), R.publish(b"a/\xff", b"x", version=5),
                           0x81),
    "topic-plus": (R.publish("a/+", b"x"), R.publish("a/+", b"x", version=5), 0x82),
    "topic-hash": (R.publish("a/#", b"x"), R.publish("a/#", b"x", version=5), 0x82),
    "topic-empty": (R.publish("", b"x"), R.publish("", b"x", version=5), 0x82),
    "packet-id-0": (R.publish("a", b"x", qos=1, mid=0),
                    R.publish("a", b"x", qos=1, mid=0, version=5), 0x82),
    "qos-3": (bytes([0x36]) + R.publish("a", b"x", qos=1)[1:],
              bytes([0x36]) + R.publish("a", b"x", qos=1, version=5)[1:], 0x81),
    "string-past-data": (P(R.PUBLISH, 0, R.u16(20) + b"ab"), P(R.PUBLISH, 0, R.u16(20) + b"ab"),
                         0x81),
}


@pytest.mark.parametrize("case", list(PUBLISH_CASES))
def test_publish_malformed_v311_closed(any_broker, case):
    assert answer(any_broker, PUBLISH_CASES[case][0]) == CLOSE


@pytest.mark.parametrize("case", list(PUBLISH_CASES))
def test_publish_malformed_v5_reason(any_broker, case):
    _, data, code = PUBLISH_CASES[case]
    assert answer(any_broker, data, 5) == v5_disconnect(code)


def test_publish_wildcard_not_delivered(any_broker):
    with R.connected(any_broker.port, "watch") as w:
        w.subscribe([("#", 1)])
        answer(any_broker, R.publish("a/+", b"x"))
        w.nothing(0.5)


@pytest.mark.parametrize("properties,code", [
    ([(R.SESSION_EXPIRY, 1)], 0x81),
    ([(R.TOPIC_ALIAS, 0)], 0x81),
    ([(R.TOPIC_ALIAS, 11)], 0x94),
], ids=["property-not-allowed", "alias-0", "alias-over-max"])
def test_v5_publish_bad_property(any_broker, properties, code):
    data = R.publish("a", b"x", version=5, properties=properties)
    assert answer(any_broker, data, 5) == v5_disconnect(code)


def test_v5_publish_unknown_alias_empty_topic(any_broker):
    data = R.publish("", b"x", version=5, properties=[(R.TOPIC_ALIAS, 3)])
    assert answer(any_broker, data, 5) == v5_disconnect(0x82)


# ---------------------------------------------------------------- SUBSCRIBE

SUBSCRIBE_CASES = {
    "packet-id-0": lambda v: R.subscribe(0, ["a"], version=v),
    "flags-0": lambda v: bytes([0x80]) + R.subscribe(1, ["a"], version=v)[1:],
    "no-filters": lambda v: R.subscribe(1, [], version=v),
    "qos-3": lambda v: R.subscribe(1, [("a", 3)], version=v),
    "reserved-option-bits": lambda v: R.subscribe(1, [("a", 0xC0)], version=v),
    "hash-not-last": lambda v: R.subscribe(1, [("a/#/b", 0)], version=v),
    "plus-inside-level": lambda v: R.subscribe(1, [("a+", 0)], version=v),
    "unsubscribe-flags-0": lambda v: bytes([0xA0]) + R.unsubscribe(1, ["a"], version=v)[1:],
}


@pytest.mark.parametrize("case", list(SUBSCRIBE_CASES))
def test_subscribe_malformed_v311_closed(any_broker, case):
    assert answer(any_broker, SUBSCRIBE_CASES[case](4)) == CLOSE


@pytest.mark.parametrize("case", list(SUBSCRIBE_CASES))
def test_subscribe_malformed_v5_0x81(any_broker, case):
    assert answer(any_broker, SUBSCRIBE_CASES[case](5), 5) == v5_disconnect(0x81)


@pytest.mark.parametrize("options", [0x30, None], ids=["retain-handling-3", "sub-id-0"])
def test_v5_subscribe_bad_option_or_property(any_broker, options):
    if options is None:
        data = R.subscribe(1, ["a"], version=5, properties=[(R.SUBSCRIPTION_ID, 0)])
    else:
        data = R.subscribe(1, [("a", options)], version=5)
    assert answer(any_broker, data, 5) == v5_disconnect(0x81)


# ---------------------------------------------------------------- other packets

@pytest.mark.parametrize("version", [4, 5])
def test_pubrel_reserved_flags(any_broker, version):
    got = answer(any_broker, bytes([0x60]) + R.ack(R.PUBREL, 1, version)[1:], version)
    assert got in (CLOSE, v5_disconnect(0x81)) if version == 5 else got == CLOSE


@pytest.mark.parametrize("version", [4, 5])
def test_disconnect_reserved_flags(any_broker, version):
    got = answer(any_broker, b"\xe1\x00", version)
    assert got in (CLOSE, v5_disconnect(0x81)) if version == 5 else got == CLOSE


def test_packet_type_0_v311(any_broker):
    assert answer(any_broker, b"\x00\x00") == CLOSE


def test_packet_type_0_v5(any_broker):
    assert answer(any_broker, b"\x00\x00", 5) == v5_disconnect(0x82)


def test_auth_packet_in_v311(any_broker):
    assert answer(any_broker, b"\xf0\x00") == CLOSE


@pytest.mark.parametrize("version", [4, 5])
def test_connack_from_client(any_broker, version):
    got = answer(any_broker, b"\x20\x02\x00\x00", version)
    assert got in (CLOSE, v5_disconnect(0x82)) if version == 5 else got == CLOSE


def test_v5_disconnect_invalid_reason(any_broker):
    got = answer(any_broker, R.disconnect(5, reason=0x03), 5)
    assert got in (CLOSE, v5_disconnect(0x81), v5_disconnect(0x82))


def test_v5_disconnect_session_expiry_from_zero(any_broker):
    # Session Expiry 0 at CONNECT cannot become non-zero at DISCONNECT
    data = R.disconnect(5, reason=0, properties=[(R.SESSION_EXPIRY, 10)])
    assert answer(any_broker, data, 5) == v5_disconnect(0x82)


# ---------------------------------------------------------------- midge-only
# Mosquitto 2.0.11 accepts these although the specification calls them
# malformed or a protocol error; midge gives the specification's answer.

@pytest.mark.parametrize("data", [b"\xc1\x00", b"\xc0\x01\x00"], ids=["flags", "length-1"])
def test_pingreq_malformed_midge(midge, data):
    assert answer(midge, data) == CLOSE


def test_suback_from_client_v311_midge(midge):
    assert answer(midge, b"\x90\x03\x00\x01\x00") == CLOSE


def test_v5_shared_subscription_no_local_midge(midge):
    data = R.subscribe(1, [("$share/g/a", R.sub_options(no_local=True))], version=5)
    assert answer(midge, data, 5) == v5_disconnect(0x82)


def test_v5_publish_with_subscription_id_midge(midge):
    data = R.publish("a", b"x", version=5, properties=[(R.SUBSCRIPTION_ID, 3)])
    assert answer(midge, data, 5) == v5_disconnect(0x82)


# ---------------------------------------------------------------- survival

def test_broker_survives_garbage(any_broker):
    """After each kind of garbage the broker still serves a normal client."""
    blobs = [b"\xff" * 64, b"\x10", b"\x10\x80", bytes(range(256)),
             b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\xff"]
    for blob in blobs:
        with R.Client(any_broker.port, timeout=2) as c:
            c.send(blob)
            try:
                c.wait_closed(1.0)
            except R.Timeout:
                pass  # an incomplete packet may just wait: fine
    with R.connected(any_broker.port, "after") as c:
        c.ping()


@pytest.mark.parametrize("version", [4, 5])
def test_qos0_publish_with_dup_midge(midge, version):
    """DUP must be 0 at QoS 0 (spec 3.3.1.1): malformed. Mosquitto 2.0.11
    accepts it."""
    got = answer(midge, R.publish("t", b"x", qos=0, dup=True, version=version), version)
    assert got == (v5_disconnect(0x81) if version == 5 else CLOSE)


def test_v5_publish_to_share_topic_not_authorized(any_broker):
    """A PUBLISH whose topic starts with $share/ is refused with 0x87 and
    reaches nobody, as in Mosquitto."""
    with R.connected(any_broker.port, "s", version=5) as s:
        s.subscribe([("$share/g/t", 1)])
        with R.connected(any_broker.port, "p", version=5) as p:
            assert p.publish("$share/g/t", b"x", qos=1).reason == 0x87
        s.nothing(0.3)
