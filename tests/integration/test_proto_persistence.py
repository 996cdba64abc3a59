"""Persistence (`persistence true`): what a persistent session was promised
survives kill -9 of the broker. Each test kills midge with SIGKILL and starts
it again on the same port and database."""
import os

import pytest

import mqttraw as R
from conftest import free_port, start_midge

CONFIG = "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n" \
         "persistence_location %s/\n"


@pytest.fixture
def durable(workdir):
    """A factory: start() runs midge on a fixed port and database; restart()
    kills it with SIGKILL and starts it again."""
    class Durable:
        def __init__(self):
            self.port = free_port()
            self.broker = None

        def start(self):
            self.broker = start_midge(workdir, config=CONFIG % workdir, port=self.port)
            return self.broker

        def restart(self):
            self.broker.kill9()
            return self.start()

    d = Durable()
    d.start()
    yield d
    if d.broker is not None and d.broker.proc is not None:
        d.broker.check_clean(d.broker.stop())


def test_queued_messages_and_subscription_survive_kill9(durable):
    with R.connected(durable.port, "keeper", clean=False) as c:
        c.subscribe([("p/#", 2)])
    with R.connected(durable.port, "pub") as p:
        p.publish("p/1", b"one", qos=1)
        p.publish("p/2", b"two", qos=2)
        p.publish("p/0", b"zero", qos=0)  # QoS 0 is never kept for an offline client
    durable.restart()
    with R.connected(durable.port, "keeper", clean=False) as c:
        assert c.connack.session_present
        got = [c.recv_publish() for _ in range(2)]
        assert [(m.topic, m.payload, m.qos) for m in got] == \
            [("p/1", b"one", 1), ("p/2", b"two", 2)]
        c.nothing(0.3)
        # the subscription itself came back too
        with R.connected(durable.port, "pub2") as p:
            p.publish("p/3", b"three", qos=1)
        assert c.recv_publish().payload == b"three"


def test_unacknowledged_message_resent_with_dup_after_kill9(durable):
    with R.connected(durable.port, "slow", clean=False) as c:
        c.subscribe([("d", 1)])
        with R.connected(durable.port, "pub") as p:
            p.publish("d", b"payload", qos=1)
        first = c.recv_publish(ack_it=False)
        assert not first.dup
    durable.restart()
    with R.connected(durable.port, "slow", clean=False) as c:
        again = c.recv_publish()
        assert (again.payload, again.dup, again.mid) == (b"payload", True, first.mid)


def test_retained_survives_kill9_and_clear_is_kept(durable):
    with R.connected(durable.port, "pub") as p:
        p.publish("r/keep", b"kept", qos=1, retain=True)
        p.publish("r/gone", b"soon cleared", qos=1, retain=True)
        p.publish("r/gone", b"", qos=1, retain=True)
    durable.restart()
    with R.connected(durable.port, "sub") as s:
        s.subscribe([("r/#", 1)])
        m = s.recv_publish()
        assert (m.topic, m.payload, m.retain) == ("r/keep", b"kept", True)
        s.nothing(0.3)


def test_clean_session_not_restored(durable):
    with R.connected(durable.port, "fleeting", clean=True) as c:
        c.subscribe([("f", 1)])
        durable.restart()
    with R.connected(durable.port, "fleeting", clean=False) as c:
        assert not c.connack.session_present


def test_v5_session_expiry_survives_kill9(durable):
    with R.connected(durable.port, "v5keeper", version=5, clean=True,
                     properties=[(R.SESSION_EXPIRY, 300)]) as c:
        c.subscribe([("v5/t", 1)])
    with R.connected(durable.port, "pub", version=5) as p:
        p.publish("v5/t", b"kept for v5", qos=1)
    durable.restart()
    with R.connected(durable.port, "v5keeper", version=5, clean=False,
                     properties=[(R.SESSION_EXPIRY, 300)]) as c:
        assert c.connack.session_present
        assert c.recv_publish().payload == b"kept for v5"


def test_incoming_qos2_not_delivered_twice_across_kill9(durable):
    with R.connected(durable.port, "watch", clean=False) as w:
        w.subscribe([("x", 2)])
    with R.connected(durable.port, "q2pub", clean=False) as p:
        p.send(R.publish("x", b"once", qos=2, mid=7))
        assert p.expect(R.PUBREC).mid == 7
    durable.restart()
    with R.connected(durable.port, "q2pub", clean=False) as p:
        # the publisher did not see PUBCOMP: it sends the PUBLISH again
        p.send(R.publish("x", b"once", qos=2, mid=7, dup=True))
        assert p.expect(R.PUBREC).mid == 7
        p.send(R.ack(R.PUBREL, 7))
        assert p.expect(R.PUBCOMP).mid == 7
    with R.connected(durable.port, "watch", clean=False) as w:
        assert w.recv_publish().payload == b"once"
        w.nothing(0.5)
