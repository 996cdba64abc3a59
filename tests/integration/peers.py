"""Real peers for the integration tests: a synchronous wrapper around
paho-mqtt 1.6.1 (v3.1.1 and v5) and bounded runs of mosquitto_pub/sub."""
import queue
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

V311 = mqtt.MQTTv311
V5 = mqtt.MQTTv5
WAIT = 5.0


def props(ptype, **fields):
    """paho Properties for packet type `ptype` (e.g. PacketTypes.PUBLISH)
    with the given attributes (MessageExpiryInterval=..., UserProperty=[...])."""
    p = Properties(ptype)
    for k, v in fields.items():
        setattr(p, k, v)
    return p


class Paho:
    """A connected paho client whose calls wait (boundedly) for their acks."""

    def __init__(self, broker, client_id="", version=V311, clean=True, keepalive=60,
                 properties=None, will=None, connect=True):
        self.version = version
        self.port = broker.port if hasattr(broker, "port") else broker
        if version == V5:
            self.c = mqtt.Client(client_id, protocol=V5)
        else:
            self.c = mqtt.Client(client_id, clean_session=clean, protocol=version)
        self.clean = clean
        self.keepalive = keepalive
        self.conn_props = properties
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subacks = {}
        self.unsubacks = {}
        self.rc = None
        self.connack_props = None
        self.session_present = None
        self.disconnect_rc = None
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        if will:
            self.c.will_set(will["topic"], will.get("payload"), will.get("qos", 0),
                            will.get("retain", False), will.get("properties"))
        if connect:
            self.connect()

    def _on_connect(self, c, u, flags, rc, properties=None):
        self.rc = rc
        self.session_present = flags.get("session present")
        self.connack_props = properties
        self.connected.set()

    def _on_disconnect(self, c, u, rc, properties=None):
        self.disconnect_rc = rc
        self.disconnected.set()

    def _on_subscribe(self, c, u, mid, granted, properties=None):
        self.subacks[mid] = granted

    def _on_unsubscribe(self, c, u, mid, *rest):
        self.unsubacks[mid] = rest

    def connect(self, expect_rc=0):
        self.connected.clear()
        if self.version == V5:
            self.c.connect("127.0.0.1", self.port, self.keepalive, clean_start=self.clean,
                           properties=self.conn_props)
        else:
            self.c.connect("127.0.0.1", self.port, self.keepalive)
        self.c.loop_start()
        assert self.connected.wait(WAIT), "no CONNACK within %.0fs" % WAIT
        if expect_rc is not None:
            assert self.rc == expect_rc, "CONNACK rc %r" % (self.rc,)
        return self

    def _wait(self, table, mid):
        deadline = time.monotonic() + WAIT
        while mid not in table:
            assert time.monotonic() < deadline, "no ack for mid %d" % mid
            time.sleep(0.01)
        return table.pop(mid)

    def subscribe(self, topic, qos=0, options=None, properties=None):
        """Returns the granted QoS list (v3) or reason codes (v5)."""
        if self.version == V5:
            rc, mid = self.c.subscribe(topic, options=options or SubscribeOptions(qos=qos),
                                       properties=properties)
        else:
            rc, mid = self.c.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        return self._wait(self.subacks, mid)

    def unsubscribe(self, topic):
        rc, mid = self.c.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        return self._wait(self.unsubacks, mid)

    def publish(self, topic, payload=None, qos=0, retain=False, properties=None, wait=True):
        info = self.c.publish(topic, payload, qos, retain, properties)
        if wait:
            info.wait_for_publish(WAIT)
            assert info.is_published(), "publish to %s not acknowledged" % topic
        return info

    def get(self, timeout=WAIT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no message within %.1fs" % timeout)

    def get_n(self, n, timeout=WAIT):
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("got %d of %d messages" % (len(out), n))
            out.append(self.get(left))
        return out

    def none(self, timeout=0.5):
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("unexpected message on %s: %r" % (m.topic, m.payload))

    def disconnect(self, properties=None):
        if self.version == V5:
            self.c.disconnect(properties=properties)
        else:
            self.c.disconnect()
        self.disconnected.wait(WAIT)
        self.c.loop_stop()

    def drop(self):
        """Ends the connection without DISCONNECT (an ungraceful end)."""
        self.c.loop_stop()
        self.c.socket().close()


def mosquitto_sub(port, topic, count=1, wait=5, extra=()):
    """Starts mosquitto_sub, bounded by -C count and -W seconds. Call
    sub_output() for what it printed."""
    argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
            "-C", str(count), "-W", str(wait)] + list(extra)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def sub_output(proc, timeout=10):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("mosquitto_sub still running after %ds" % timeout)
    return proc.returncode, out.decode(), err.decode()


def mosquitto_pub(port, topic, message, extra=(), timeout=10):
    argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m",
            message] + list(extra)
    r = subprocess.run(argv, capture_output=True, timeout=timeout)
    assert r.returncode == 0, "mosquitto_pub failed: %s" % r.stderr.decode()
    return r


def pub_until_received(port, topic, message, sub_proc, extra=(), tries=25):
    """Publishes with mosquitto_pub every 0.2 s until the mosquitto_sub
    process `sub_proc` (started with -C 1) exits: a separate subscriber
    process gives no sign of having subscribed, so resend, boundedly."""
    for _ in range(tries):
        mosquitto_pub(port, topic, message, extra)
        try:
            sub_proc.wait(0.2)
            return
        except subprocess.TimeoutExpired:
            pass


__all__ = ["Paho", "PacketTypes", "Properties", "SubscribeOptions", "props", "V311", "V5",
           "mosquitto_sub", "mosquitto_pub", "sub_output", "mqtt"]
