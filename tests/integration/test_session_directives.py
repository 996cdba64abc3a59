"""max_topic_alias, queue_qos0_messages and persistent_client_expiration,
each against midge and Mosquitto where both can show it."""
import time

import pytest

from peers import V5, V311, Paho, props
from paho.mqtt.packettypes import PacketTypes


def alias_max(connack_props):
    return getattr(connack_props, "TopicAliasMaximum", 0) if connack_props else 0


@pytest.mark.parametrize("setting,expected", [("", 10), ("max_topic_alias 4\n", 4),
                                              ("max_topic_alias 0\n", 0)])
def test_max_topic_alias_in_connack(configured_broker, setting, expected):
    b = configured_broker(setting)
    c = Paho(b, version=V5)
    try:
        assert alias_max(c.connack_props) == expected
    finally:
        c.disconnect()


def test_max_topic_alias_beyond_is_refused(configured_broker):
    """An alias above the maximum is a protocol error: the client is
    disconnected."""
    b = configured_broker("max_topic_alias 2\n")
    c = Paho(b, version=V5)
    p = props(PacketTypes.PUBLISH, TopicAlias=3)
    c.c.publish("alias/t", b"x", 0, False, p)
    assert c.disconnected.wait(5), "still connected after alias 3 of 2"
    c.c.loop_stop()


def offline_qos0_delivery(b, version):
    """A persistent session subscribed at QoS 0 is offline while a QoS 0
    message is published: is it delivered when the client comes back?"""
    sub = Paho(b, "q0-keeper", version=version, clean=False,
               properties=props(PacketTypes.CONNECT, SessionExpiryInterval=300)
               if version == V5 else None)
    sub.subscribe("q0/t", qos=0)
    sub.subscribe("q0/one", qos=1)  # shows the session itself was kept
    sub.disconnect()
    pub = Paho(b, version=version)
    pub.publish("q0/t", b"while away", qos=0)
    pub.publish("q0/one", b"also away", qos=1)
    pub.disconnect()
    time.sleep(0.2)
    back = Paho(b, "q0-keeper", version=version, clean=False, connect=False)
    back.conn_props = sub.conn_props
    back.connect()
    try:
        got = []
        try:
            while True:
                got.append(back.get(1.0).payload)
        except AssertionError:
            pass
        return got
    finally:
        back.disconnect()


@pytest.mark.parametrize("version", [V311, V5], ids=["v311", "v5"])
def test_qos0_not_queued_offline_by_default(configured_broker, version):
    b = configured_broker("")
    assert offline_qos0_delivery(b, version) == [b"also away"]


@pytest.mark.parametrize("version", [V311, V5], ids=["v311", "v5"])
def test_queue_qos0_messages_keeps_them(configured_broker, version):
    b = configured_broker("queue_qos0_messages true\n")
    assert offline_qos0_delivery(b, version) == [b"while away", b"also away"]


def session_present_after(b, version, pause, expiry=None):
    kw = {}
    if version == V5:
        kw["properties"] = props(PacketTypes.CONNECT, SessionExpiryInterval=expiry)
    c = Paho(b, "pce-client", version=version, clean=False, **kw)
    c.subscribe("pce/t", qos=1)
    c.disconnect()
    time.sleep(pause)
    again = Paho(b, "pce-client", version=version, clean=False, **kw)
    present = again.session_present
    again.disconnect()
    return bool(present)


def test_persistent_client_expiration_accepted(configured_broker):
    """Mosquitto's units parse alike, and a session stays meanwhile."""
    b = configured_broker("persistent_client_expiration 1h\n")
    assert session_present_after(b, V311, 0.2)


@pytest.mark.parametrize("version,expiry", [(V311, None), (V5, 0xFFFFFFFF), (V5, 600)],
                         ids=["v311", "v5-never", "v5-longer"])
def test_persistent_client_expiration_ends_sessions_midge(workdir, version, expiry):
    """midge also takes seconds (Mosquitto's smallest unit is an hour, too
    long for a test): a session that would outlive the limit ends after it,
    as Mosquitto ends it after the hour."""
    from conftest import start_configured
    b = start_configured("midge", workdir, "persistent_client_expiration 1s\n")
    try:
        assert not session_present_after(b, version, 2.5, expiry)
    finally:
        b.check_clean(b.stop())


def test_persistent_client_expiration_keeps_shorter_v5_expiry_midge(workdir):
    """A v5 session that asked for less than the limit keeps its own
    expiry: 1 s asked under a 1 h limit is gone after 2.5 s."""
    from conftest import start_configured
    b = start_configured("midge", workdir, "persistent_client_expiration 1h\n")
    try:
        assert not session_present_after(b, V5, 2.5, 1)
        assert session_present_after(b, V5, 0.2, 60)
    finally:
        b.check_clean(b.stop())
