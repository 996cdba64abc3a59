"""MQTT over WebSockets with real clients: MQTT.js (ws:// and wss://),
paho-mqtt's websockets transport, and mosquitto_pub/sub on the plain MQTT
listener of the same broker. Run against midge and Mosquitto (whose Debian
build has libwebsockets): a case that fails on Mosquitto tests the wrong
thing."""
import queue
import ssl

import paho.mqtt.client as mqtt
import pytest

from peers import mosquitto_pub, mosquitto_sub, sub_output
from ws_util import ensure_mqttjs, mqttjs, start_ws_broker

BROKERS = ["midge", "mosquitto"]


@pytest.fixture(scope="module", autouse=True)
def node_deps():
    ensure_mqttjs()


class PahoWs:
    """paho-mqtt 1.6.1 over WebSockets, subscribed to one topic."""

    def __init__(self, port, topic, cafile=None):
        self.q = queue.Queue()
        self.subscribed = queue.Queue()
        c = mqtt.Client(transport="websockets", protocol=mqtt.MQTTv311)
        c.ws_set_options(path="/mqtt")
        if cafile:
            c.tls_set(ca_certs=cafile, cert_reqs=ssl.CERT_REQUIRED)
        c.on_message = lambda cl, ud, m: self.q.put(m)
        c.on_subscribe = lambda cl, ud, mid, qos: self.subscribed.put(qos)
        c.on_connect = lambda cl, ud, fl, rc: cl.subscribe(topic, 1) if rc == 0 else None
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        self.c = c
        assert self.subscribed.get(timeout=10) == (1,)

    def publish(self, topic, payload):
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def message(self, timeout=10):
        return self.q.get(timeout=timeout)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def lines(proc, timeout=20):
    try:
        out, err = proc.communicate(timeout=timeout)
    except Exception:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("MQTT.js did not finish: %s" % err.decode())
    assert proc.returncode == 0, "MQTT.js failed: %s" % err.decode()
    return out.decode("latin1").splitlines()


def wait_ready(proc):
    line = proc.stdout.readline().decode().strip()
    assert line == "ready", "MQTT.js subscriber: %r %s" % (line, proc.stderr.read().decode()
                                                              if not line else "")


def run_pubsub(b, url, ws_port, cafile=None):
    # MQTT.js publishes over WebSockets; paho over WebSockets and
    # mosquitto_sub over TCP receive it.
    paho = PahoWs(ws_port, "ws/a", cafile)
    sub = mosquitto_sub(b.port, "ws/a", count=1, wait=15)
    for _ in range(10):
        assert lines(mqttjs(url, "pub", "ws/a", "from-mqttjs", *([cafile] if cafile else []))) == []
        try:
            sub.wait(0.3)
            break
        except Exception:
            pass
    rc, out, err = sub_output(sub)
    assert rc == 0 and out.strip() == "from-mqttjs", err
    assert paho.message().payload == b"from-mqttjs"

    # MQTT.js subscribes over WebSockets; mosquitto_pub (TCP) and paho
    # (WebSockets, a payload past the 16-bit frame length) publish to it.
    js = mqttjs(url, "sub", "ws/b", "2", *([cafile] if cafile else []))
    wait_ready(js)
    mosquitto_pub(b.port, "ws/b", "from-tcp", extra=["-q", "1"])
    big = bytes([0x41 + i % 26 for i in range(100000)])
    paho.publish("ws/b", big)
    got = lines(js)
    assert got == ["8 from-tcp", "100000 " + big[:32].decode()], got

    # Big payloads the other way too: MQTT.js publishes 300000 bytes.
    assert lines(mqttjs(url, "pub", "ws/a", "300000", *([cafile] if cafile else []))) == []
    m = paho.message()
    assert len(m.payload) == 300000 and m.payload == b"m" * 300000
    paho.close()


@pytest.mark.parametrize("kind", BROKERS)
def test_ws_pubsub_mqttjs_paho_tcp(kind, workdir):
    b, ports, _ = start_ws_broker(kind, workdir)
    try:
        run_pubsub(b, "ws://127.0.0.1:%d/mqtt" % ports.ws, ports.ws)
    finally:
        rc = b.stop()
        if kind == "midge":
            b.check_clean(rc)


# Debian's Mosquitto 2.0.11 cannot open a websockets listener with
# certfile/keyfile ("Unable to create websockets listener"), so the wss://
# case runs against midge only; the clients verify the certificate.
@pytest.mark.parametrize("kind", ["midge"])
def test_wss_pubsub_mqttjs_paho_tcp(kind, workdir):
    b, ports, cafile = start_ws_broker(kind, workdir, tls=True)
    try:
        run_pubsub(b, "wss://127.0.0.1:%d/mqtt" % ports.wss, ports.wss, cafile)
        # The plain ws:// listener of the same broker still works.
        js = mqttjs("ws://127.0.0.1:%d/mqtt" % ports.ws, "sub", "ws/c", "1")
        wait_ready(js)
        mosquitto_pub(b.port, "ws/c", "plain", extra=["-q", "1"])
        assert lines(js) == ["5 plain"]
    finally:
        rc = b.stop()
        if kind == "midge":
            b.check_clean(rc)
