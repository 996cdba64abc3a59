"""The lab's clients, unchanged: mosquitto_sub/mosquitto_pub command lines,
paho subscriber and publisher scripts in the lab's style (run as separate
python3 processes), and a MicroPython umqtt.simple-style byte exchange."""
import json
import os
import selectors
import subprocess
import time

import mqttraw as R
from peers import V311, Paho, mosquitto_sub, pub_until_received, sub_output

PYTHON = "/usr/bin/python3"

# A lab-style subscriber: print every message of a topic. The only
# additions to what the lab runs are the broker address from the
# environment (tests use their own port) and a message count to stop at.
SUBSCRIBER = r'''
import os
import paho.mqtt.client as mqtt

BROKER = os.environ.get("BROKER", "localhost")
PORT = int(os.environ.get("PORT", "1883"))
TOPIC = os.environ.get("TOPIC", "lab/sensors")
COUNT = int(os.environ.get("COUNT", "0"))
received = 0


def on_connect(client, userdata, flags, rc):
    print("Connected with result code " + str(rc), flush=True)
    client.subscribe(TOPIC)


def on_subscribe(client, userdata, mid, granted_qos):
    print("Subscribed", flush=True)


def on_message(client, userdata, msg):
    global received
    print(msg.topic + " " + msg.payload.decode(), flush=True)
    received += 1
    if COUNT and received >= COUNT:
        client.disconnect()


client = mqtt.Client()
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(BROKER, PORT, 60)
client.loop_forever()
'''

# A lab-style publisher: JSON temperature/humidity readings every 100 ms.
PUBLISHER = r'''
import json
import os
import random
import time
import paho.mqtt.client as mqtt

BROKER = os.environ.get("BROKER", "localhost")
PORT = int(os.environ.get("PORT", "1883"))
TOPIC = os.environ.get("TOPIC", "lab/sensors")
COUNT = int(os.environ.get("COUNT", "20"))

client = mqtt.Client()
client.connect(BROKER, PORT, 60)
client.loop_start()
for i in range(COUNT):
    reading = {"temperature": round(random.uniform(18.0, 30.0), 2),
               "humidity": round(random.uniform(30.0, 70.0), 2), "seq": i}
    info = client.publish(TOPIC, json.dumps(reading))
    info.wait_for_publish()
    print("Published " + json.dumps(reading), flush=True)
    time.sleep(0.1)
client.loop_stop()
client.disconnect()
'''


def test_lab_mosquitto_sub_receives_move_forward(any_broker):
    sub = mosquitto_sub(any_broker.port, "pyespcar_basic_control", count=1, wait=8)
    pub_until_received(any_broker.port, "pyespcar_basic_control", "MOVE_FORWARD", sub)
    rc, out, err = sub_output(sub)
    assert (rc, out) == (0, "MOVE_FORWARD\n"), err


def test_lab_mosquitto_sub_verbose_many_commands(any_broker):
    commands = ["MOVE_FORWARD", "MOVE_BACKWARD", "TURN_LEFT", "TURN_RIGHT", "STOP"]
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(any_broker.port),
                            "-t", "pyespcar_basic_control", "-v", "-W", "15"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        # READY until the subscriber shows one: then it is subscribed
        for _ in range(25):
            pub(any_broker, "READY")
            try:
                if "READY" in read_line(sub, 0.3):
                    break
            except AssertionError:
                pass
        else:
            raise AssertionError("mosquitto_sub never received READY")
        for cmd in commands:
            pub(any_broker, cmd)
        lines = []
        while len(lines) < len(commands):
            line = read_line(sub, 5).strip()
            if not line.endswith(" READY"):
                lines.append(line)
        assert lines == ["pyespcar_basic_control " + c for c in commands]
    finally:
        sub.kill()
        sub.communicate()


def pub(broker, message):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t",
                    "pyespcar_basic_control", "-m", message], check=True, timeout=10)


def start_script(workdir, name, text, env):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    full = dict(os.environ, **env)
    return subprocess.Popen([PYTHON, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=full, bufsize=0)


def read_line(proc, timeout):
    """One line of the process's stdout, or AssertionError after timeout.
    The pipe must be unbuffered (bufsize=0): a buffered reader would take
    more than a line, and select() would not see what it holds."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError("no output within %.0fs" % timeout)
        return proc.stdout.readline().decode()
    finally:
        sel.close()


def test_lab_paho_scripts(any_broker, workdir):
    n = 20
    env = {"BROKER": "127.0.0.1", "PORT": str(any_broker.port), "TOPIC": "lab/sensors",
           "COUNT": str(n)}
    sub = start_script(workdir, "subscriber.py", SUBSCRIBER, env)
    try:
        assert read_line(sub, 10).startswith("Connected with result code 0")
        assert read_line(sub, 10).startswith("Subscribed")
        pub = start_script(workdir, "publisher.py", PUBLISHER, env)
        pout, perr = pub.communicate(timeout=20)
        assert pub.returncode == 0, perr.decode()
        assert pout.decode().count("Published ") == n
        out, err = sub.communicate(timeout=10)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.communicate()
    assert sub.returncode == 0, err.decode()
    lines = [line for line in out.decode().splitlines() if line.startswith("lab/sensors ")]
    assert len(lines) == n
    readings = [json.loads(line.split(" ", 1)[1]) for line in lines]
    assert [r["seq"] for r in readings] == list(range(n))
    assert all(18.0 <= r["temperature"] <= 30.0 and 30.0 <= r["humidity"] <= 70.0
               for r in readings)


def test_lab_umqtt_simple_style(any_broker):
    """The byte exchange of MicroPython's umqtt.simple: CONNECT 3.1.1 with
    keep-alive 0, SUBSCRIBE at QoS 0, a PUBLISH in, ping, DISCONNECT."""
    with R.Client(any_broker.port) as esp:
        esp.send(b"\x10" + R.varint(12 + len("esp32car")) + b"\x00\x04MQTT\x04\x02\x00\x00" +
                 R.mqstr("esp32car"))
        assert esp.sock.recv(4) == b"\x20\x02\x00\x00"
        esp.send(b"\x82" + R.varint(2 + 2 + len("pyespcar_basic_control") + 1) + b"\x00\x01" +
                 R.mqstr("pyespcar_basic_control") + b"\x00")
        assert esp.expect(R.SUBACK).codes == [0]
        with R.connected(any_broker.port, "controller") as ctl:
            ctl.publish("pyespcar_basic_control", b"MOVE_FORWARD", qos=0)
            m = esp.expect(R.PUBLISH)
            assert (m.topic, m.payload) == ("pyespcar_basic_control", b"MOVE_FORWARD")
            esp.ping()
            esp.send(b"\xe0\x00")
            assert esp.wait_closed(3) == []


def test_lab_sensor_json_qos1_paho_in_process(any_broker):
    """The same publisher loop inside the test process at QoS 1."""
    s = Paho(any_broker, "dashboard", version=V311)
    p = Paho(any_broker, "sensor", version=V311)
    try:
        s.subscribe("lab/room1", 1)
        for i in range(10):
            p.publish("lab/room1", json.dumps({"temperature": 20 + i, "humidity": 50}), 1)
            time.sleep(0.1)
        got = [json.loads(m.payload) for m in s.get_n(10)]
        assert [g["temperature"] for g in got] == list(range(20, 30))
    finally:
        p.disconnect()
        s.disconnect()

