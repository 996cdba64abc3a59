"""The live view (examples/web) in a real browser: Debian's chromium, headless,
driven by playwright-core (tests/integration/browser). dht_telemetry and
led_dimmer (both simulated) run against a midge with a WebSockets listener;
the page is served as static files by Python's http.server. The browser side
checks the chart received readings and moves the slider; here a paho
subscriber on the plain MQTT listener checks the brightness arrived, retained
and at QoS 1. The screenshot goes to $MIDGE_BUILD/liveview.png."""
import json
import os
import queue
import shutil
import signal
import subprocess
import sys

import paho.mqtt.client as mqtt
import pytest

from conftest import BUILD, free_port, midge_binary, wait_for_port
from ws_util import npm_ci_once, start_ws_broker

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
WEB_DIR = os.path.join(HERE, "..", "..", "examples", "web")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser_deps():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s missing: run scripts/deps.sh test (Debian package chromium)" % CHROMIUM)
    # playwright-core has no install script and never fetches a browser.
    npm_ci_once(BROWSER_DIR)


class Group:
    """Processes started in their own session, so a stuck one is killed
    together with its children (chromium's helpers)."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen([str(a) for a in argv], start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)


@pytest.fixture
def group():
    g = Group()
    yield g
    g.stop_all()


class Subscriber:
    def __init__(self, port, topic):
        self.q = queue.Queue()
        subscribed = queue.Queue()
        c = mqtt.Client(client_id="liveview-test-sub", protocol=mqtt.MQTTv311)
        c.on_message = lambda cl, ud, m: self.q.put(m)
        c.on_subscribe = lambda cl, ud, mid, qos: subscribed.put(qos)
        c.on_connect = lambda cl, ud, fl, rc: cl.subscribe(topic, 1) if rc == 0 else None
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        self.c = c
        assert subscribed.get(timeout=10) == (1,)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def serve_page(group, workdir):
    """The page, its script and MQTT.js's browser bundle in one directory."""
    root = os.path.join(workdir, "www")
    os.makedirs(root)
    for name in ("index.html", "liveview.js"):
        shutil.copy(os.path.join(WEB_DIR, name), root)
    shutil.copy(os.path.join(BROWSER_DIR, "node_modules", "mqtt", "dist", "mqtt.min.js"), root)
    port = free_port()
    p = group.start([sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1",
                     "--directory", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=p)
    return port


def test_live_view_charts_telemetry_and_slider_publishes(browser_deps, workdir, group):
    b, ports, _ = start_ws_broker("midge", workdir)
    try:
        sub = Subscriber(b.port, "lab/led/brightness")
        try:
            group.start([midge_binary("dht_telemetry"), "-p", b.port, "--sample", 200],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            group.start([midge_binary("led_dimmer"), "-p", b.port],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            http_port = serve_page(group, workdir)
            shot = os.path.join(BUILD, "liveview.png")
            if os.path.exists(shot):
                os.remove(shot)
            url = "http://127.0.0.1:%d/index.html?broker=ws://127.0.0.1:%d&window=20" % (
                http_port, ports.ws)
            node = group.start(["node", os.path.join(BROWSER_DIR, "liveview_check.js"), url,
                                shot, "700"], cwd=BROWSER_DIR, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            try:
                out, err = node.communicate(timeout=100)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                out, err = node.communicate()
                raise AssertionError("browser check timed out: %s" % err.decode()[-3000:])
            assert node.returncode == 0, "browser check failed:\n%s\n%s" % (
                err.decode()[-3000:], out.decode()[-3000:])
            r = json.loads(out.decode().strip().splitlines()[-1])

            assert r["ok"]
            assert r["countAfter"] >= r["countBefore"] + 10, r
            assert -40 <= r["temperature"] <= 80 and 0 <= r["humidity"] <= 100, r
            assert r["shown"] == "%.1f" % r["temperature"], r
            assert r["chartInk"]["red"] > 50 and r["chartInk"]["blue"] > 50, r
            assert r["acked"] == "700" and r["ledStatus"] == "online", r
            assert not [c for c in r["console"] if c.startswith(("error", "pageerror"))], r
            assert os.path.getsize(shot) > 10000

            # The slider's publish reached a TCP subscriber, as QoS 1 and
            # (having been sent while the subscriber was connected) live.
            got = []
            while True:
                try:
                    got.append(sub.q.get(timeout=5 if not got else 0.5))
                except queue.Empty:
                    break
            assert got and got[-1].payload == b"700", [m.payload for m in got]
            assert got[-1].qos == 1
        finally:
            sub.close()

        # The brightness is retained: a late subscriber still gets it.
        late = Subscriber(b.port, "lab/led/brightness")
        try:
            m = late.q.get(timeout=10)
            assert m.payload == b"700" and m.retain
        finally:
            late.close()
    finally:
        group.stop_all()
        b.stop()
