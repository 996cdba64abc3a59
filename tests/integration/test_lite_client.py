"""midge-lite (build/lite_client_test, 3.1.1, and lite_client_test_v5) against
midge and Mosquitto: every QoS both ways, keep-alive without user calls,
packet ids past 65,535, persistent sessions, reconnect after a broker
restart, the will on an abrupt close, and a message larger than the
client's buffer."""
import os
import queue
import subprocess
import threading
import time

import paho.mqtt.client as paho
import pytest

from conftest import BUILD

VERSIONS = ["lite_client_test", "lite_client_test_v5"]


class Lite:
    """The host test program, its output read line by line."""

    def __init__(self, prog, port, args):
        path = os.path.join(BUILD, prog)
        if not os.path.exists(path):
            pytest.skip("%s not built" % prog)
        self.proc = subprocess.Popen([path, "-p", str(port)] + [str(a) for a in args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix, timeout=10.0):
        """Returns the first line starting with prefix; fails on ERR."""
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no %r within %.0fs; saw %r" % (prefix, timeout, self.seen))
            assert line is not None, "exited before %r; saw %r" % (prefix, self.seen)
            self.seen.append(line)
            if line.startswith(prefix):
                return line
            assert not line.startswith("ERR"), "%s; saw %r" % (line, self.seen)

    def send_line(self):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def finish(self, timeout=20.0):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("lite client hung; saw %r" % self.seen)
        while True:
            try:
                line = self.lines.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        return rc

    def messages(self):
        return [line.split(" ", 2)[1:] for line in self.seen if line.startswith("MSG ")]


def peer(broker, subscribe=None, qos=2, client_id=""):
    got = []
    c = paho.Client(client_id=client_id, clean_session=True)
    c.on_message = lambda _c, _u, m: got.append((m.topic, m.payload.decode(), m.qos))
    c.connect(broker.host, broker.port, keepalive=30)
    c.loop_start()
    if subscribe:
        acked = threading.Event()
        c.on_subscribe = lambda *_a: acked.set()
        assert c.subscribe(subscribe, qos)[0] == 0
        assert acked.wait(5)
    return c, got


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_all_qos_both_ways(any_broker, prog):
    pc, got = peer(any_broker, "lite/out", 2)
    lite = Lite(prog, any_broker.port, [
        "-i", "lite-qos", "connect", 1, "sub", "lite/in", 2, "pause", "recv", 3, 10,
        "pub", "lite/out", 0, "m0", "pub", "lite/out", 1, "m1", "pub", "lite/out", 2, "m2",
        "disconnect"])
    lite.expect("OK sub")
    for q in (0, 1, 2):
        pc.publish("lite/in", "in%d" % q, qos=q).wait_for_publish()
    lite.send_line()
    assert lite.finish() == 0, lite.seen
    assert sorted(lite.messages()) == [["lite/in", "in0"], ["lite/in", "in1"], ["lite/in", "in2"]]
    assert wait_for(lambda: len(got) == 3)
    assert sorted(got) == [("lite/out", "m0", 0), ("lite/out", "m1", 1), ("lite/out", "m2", 2)]
    pc.loop_stop()
    pc.disconnect()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_keepalive_without_user_calls(any_broker, prog):
    # keepalive 1 s, 4 s of check_msg only: the broker would have dropped
    # a silent client after 1.5 s.
    pc, got = peer(any_broker, "ka/t", 1)
    lite = Lite(prog, any_broker.port, ["-i", "lite-ka", "-k", 1, "connect", 1, "idle", 4,
                                        "pub", "ka/t", 1, "alive", "disconnect"])
    assert lite.finish() == 0, lite.seen
    assert wait_for(lambda: ("ka/t", "alive", 1) in got)
    pc.loop_stop()
    pc.disconnect()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_wait_msg_keeps_alive(any_broker, prog):
    pc, _ = peer(any_broker)
    lite = Lite(prog, any_broker.port, ["-i", "lite-wm", "-k", 1, "connect", 1,
                                        "sub", "wm/t", 1, "waitmsg", 1, "disconnect"])
    lite.expect("OK sub")
    time.sleep(4)
    pc.publish("wm/t", "late", qos=1).wait_for_publish()
    assert lite.finish() == 0, lite.seen
    assert lite.messages() == [["wm/t", "late"]]
    pc.loop_stop()
    pc.disconnect()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_packet_ids_wrap(any_broker, prog):
    # QoS 1 and 2 publishes to our own subscription across 65,535 -> 1.
    lite = Lite(prog, any_broker.port, [
        "-i", "lite-wrap", "connect", 1, "sub", "wrap/t", 2, "setid", 65530,
        "pubn", "wrap/t", 1, 4, "pubn", "wrap/t", 2, 4, "recv", 8, 10, "disconnect"])
    assert lite.finish() == 0, lite.seen
    assert len(lite.messages()) == 8


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_persistent_session(any_broker, prog):
    lite = Lite(prog, any_broker.port, ["-i", "lite-persist", "connect", 1, "disconnect",
                                        "connect", 0, "sub", "ps/t", 1, "disconnect"])
    assert lite.finish() == 0, lite.seen
    pc, _ = peer(any_broker)
    for i in range(3):
        pc.publish("ps/t", "off%d" % i, qos=1).wait_for_publish()
    pc.loop_stop()
    pc.disconnect()
    lite = Lite(prog, any_broker.port, ["-i", "lite-persist", "connect", 0, "recv", 3, 10,
                                        "disconnect"])
    assert lite.expect("OK connect") == "OK connect 1"  # session present
    assert lite.finish() == 0, lite.seen
    assert sorted(lite.messages()) == [["ps/t", "off0"], ["ps/t", "off1"], ["ps/t", "off2"]]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_reconnect_after_broker_restart(any_broker, prog):
    lite = Lite(prog, any_broker.port, [
        "-i", "lite-rc", "-k", 2, "connect", 1, "sub", "rc/t", 1, "pause", "drain", 5,
        "reconnect", 50, 200, "sub", "rc/t", 1, "pub", "rc/t", 1, "back", "recv", 1, 5,
        "disconnect"])
    lite.expect("OK sub")
    any_broker.stop()
    lite.send_line()
    # check_msg sees the connection gone; reconnect retries while the
    # broker is down, and succeeds once it is back on the same port.
    assert lite.expect("OK drain") != "OK drain 0"
    time.sleep(1.0)
    any_broker.start()
    assert lite.finish(timeout=40) == 0, lite.seen
    assert lite.messages() == [["rc/t", "back"]]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_will_on_abrupt_close(any_broker, prog):
    pc, got = peer(any_broker, "will/t", 1)
    lite = Lite(prog, any_broker.port, ["-i", "lite-will", "-w", "will/t", "gone", 1,
                                        "connect", 1, "abort"])
    assert lite.finish() == 0, lite.seen
    assert wait_for(lambda: ("will/t", "gone", 1) in got), got
    pc.loop_stop()
    pc.disconnect()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_message_larger_than_buffer(any_broker, prog):
    pc, _ = peer(any_broker)
    lite = Lite(prog, any_broker.port, ["-i", "lite-big", "-b", 128, "connect", 1,
                                        "sub", "big/t", 1, "pause", "recv", 1, 5, "disconnect"])
    lite.expect("OK sub")
    pc.publish("big/t", "x" * 500, qos=1).wait_for_publish()
    pc.publish("big/t", "small", qos=1).wait_for_publish()
    lite.send_line()
    rc = lite.finish()
    if prog.endswith("v5"):
        # v5 told the broker its Maximum Packet Size: the big one is never sent.
        assert rc == 0 and lite.messages() == [["big/t", "small"]], lite.seen
    else:
        assert rc == 1 and "ERR recv -6" in lite.seen, lite.seen
    pc.loop_stop()
    pc.disconnect()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prog", VERSIONS)
def test_lite_non_ascii_topic(any_broker, prog):
    # Lengths are UTF-8 bytes: a broker would refuse or mangle the topic
    # if they were counted in characters.
    topic = "température/ü"
    pc, got = peer(any_broker, topic, 1)
    lite = Lite(prog, any_broker.port, ["-i", "lite-utf8", "connect", 1, "sub", topic, 1,
                                        "pub", topic, 1, "été", "recv", 1, 5, "disconnect"])
    assert lite.finish() == 0, lite.seen
    assert lite.messages() == [[topic, "été"]]
    assert wait_for(lambda: (topic, "été", 1) in got), got
    pc.loop_stop()
    pc.disconnect()
