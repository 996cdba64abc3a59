"""A failed login is answered late (a wait for whoever guesses passwords),
and the wait is a timer, not a sleep: a client on the same worker thread
keeps being served meanwhile."""
import os
import socket
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

from conftest import midge_binary, start_midge

DELAY = 1.0


def connect_packet(client_id, user, password):
    payload = b""
    for s in (client_id, user, password):
        b = s.encode()
        payload += len(b).to_bytes(2, "big") + b
    var = b"\x00\x04MQTT\x04\xc2\x00\x3c"  # 3.1.1, username+password, clean
    body = var + payload
    return bytes([0x10, len(body)]) + body


def wrong_login(port, out):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        t0 = time.monotonic()
        s.sendall(connect_packet("guesser", "alice", "wrong"))
        data = s.recv(4)
        out["elapsed"] = time.monotonic() - t0
        out["connack"] = data


def round_trip(port):
    got = threading.Event()
    c = mqtt.Client(client_id="bystander", protocol=mqtt.MQTTv311)
    c.username_pw_set("alice", "right")
    c.on_message = lambda _c, _u, m: got.set()
    t0 = time.monotonic()
    c.connect("127.0.0.1", port, 10)
    c.loop_start()
    try:
        c.subscribe("delay/t", 1)
        for _ in range(50):
            c.publish("delay/t", b"x", qos=1)
            if got.wait(0.05):
                break
        assert got.is_set()
        return time.monotonic() - t0
    finally:
        c.loop_stop()
        c.disconnect()


def test_failed_login_waits_without_blocking_the_worker(workdir):
    pw = os.path.join(workdir, "pw")
    subprocess.run([midge_binary("midge_passwd"), "-c", "-b", pw, "alice", "right"], check=True,
                   capture_output=True, timeout=30)
    b = start_midge(workdir, extra_args=("--threads", "1"),
                    config="listener {port} 127.0.0.1\npassword_file " + pw + "\n")
    try:
        out = {}
        t = threading.Thread(target=wrong_login, args=(b.port, out))
        t.start()
        time.sleep(0.05)  # the wrong CONNECT is in, its refusal pending
        other = round_trip(b.port)
        t.join(10)
        assert out["connack"] == b"\x20\x02\x00\x05", out  # not authorised
        assert out["elapsed"] >= DELAY * 0.95, out
        assert other < DELAY / 2, other
        assert "elapsed" in out and other < out["elapsed"]
    finally:
        b.check_clean(b.stop())
