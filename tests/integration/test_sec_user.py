"""The `user` directive: started as root, midge gives up root once its
listeners are bound, as Mosquitto 2.0 does; a user that does not exist
stops the start (Mosquitto does the same)."""
import os
import pwd
import subprocess

import paho.mqtt.client as mqtt
import pytest

from conftest import MOSQUITTO, free_port, midge_binary, start_midge

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop it")

MISSING = "midge-no-such-user"


def ids(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = rest.split()
    return out


def round_trip(port):
    got = []
    c = mqtt.Client(client_id="privdrop", protocol=mqtt.MQTTv311)
    c.on_message = lambda _c, _u, m: got.append(m.payload)
    c.connect("127.0.0.1", port, 10)
    c.loop_start()
    try:
        r, _ = c.subscribe("privdrop/t", 1)
        assert r == mqtt.MQTT_ERR_SUCCESS
        for _ in range(100):
            c.publish("privdrop/t", b"still served", qos=1).wait_for_publish(timeout=5)
            if got:
                break
        assert got and got[0] == b"still served"
    finally:
        c.loop_stop()
        c.disconnect()


def test_user_nobody_drops_root_and_serves(workdir):
    nobody = pwd.getpwnam("nobody")
    b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\nuser nobody\n")
    try:
        st = ids(b.proc.pid)
        assert st["Uid"] == [str(nobody.pw_uid)] * 4
        assert st["Gid"] == [str(nobody.pw_gid)] * 4
        assert "0" not in st.get("Groups", [])
        round_trip(b.port)
    finally:
        b.check_clean(b.stop())
    with open(b.log_path) as f:
        assert "Running as user nobody" in f.read()


def start_fails(argv, workdir):
    p = subprocess.run(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=10)
    return p.returncode, p.stdout.decode(errors="replace")


@pytest.mark.parametrize("broker", ["midge", "mosquitto"])
def test_missing_user_stops_the_start(workdir, broker):
    port = free_port()
    path = os.path.join(workdir, broker + ".conf")
    with open(path, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\nuser %s\n" % (port, MISSING))
    binary = midge_binary() if broker == "midge" else MOSQUITTO
    rc, out = start_fails([binary, "-c", path], workdir)
    assert rc != 0, out
    assert MISSING in out, out
