"""The lab examples end to end against midge: led_dimmer on fake LED-class
and PWM sysfs trees, dht_telemetry on a fake IIO dht11 tree, and the Python
PC-side scripts. Every wait is bounded."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD, midge_binary

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python")
PY = "/usr/bin/python3"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read().strip()


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except (IndexError, ValueError):
            pass  # nothing (valid) received yet
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def pub(port, topic, msg, retain=False):
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", msg, "-q", "1"]
    subprocess.run(args + (["-r"] if retain else []), check=True, timeout=10)


def sub(port, topic, count=1, timeout=5):
    out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                          "-C", str(count), "-W", str(timeout)],
                         capture_output=True, text=True, timeout=timeout + 5)
    return out.stdout.splitlines()


class Proc:
    def __init__(self, argv, workdir, name):
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:
        p.stop(signal.SIGKILL)


def example(name):
    return os.path.join(BUILD, name)


def start(procs, workdir, name, *args):
    p = Proc([example(name)] + [str(a) for a in args], workdir, name)
    procs.append(p)
    return p


# ---- led_dimmer ----

@pytest.fixture
def led_tree(workdir):
    root = os.path.join(workdir, "sys")
    write(os.path.join(root, "class/leds/lab:led/max_brightness"), "255\n")
    write(os.path.join(root, "class/leds/lab:led/brightness"), "0\n")
    return root


def test_led_dimmer_scales_duty_and_percent_to_max_brightness(midge, workdir, led_tree, procs):
    d = start(procs, workdir, "led_dimmer", "-p", midge.port, "-b", "led", "--led", "lab:led",
              "--sysfs-root", led_tree)
    bfile = os.path.join(led_tree, "class/leds/lab:led/brightness")
    wait_for(lambda: "connected" in d.text(), what="dimmer connected")
    for payload, want in [("512", "128"), ("1023", "255"), ("0", "0"), ("50%", "128"),
                          ("100%", "255")]:
        pub(midge.port, "lab/led/brightness", payload)
        wait_for(lambda: read(bfile) == want, what="brightness %s -> %s" % (payload, want))
    state = json.loads(sub(midge.port, "lab/led/status")[0])
    assert state == {"online": True, "brightness": 1023, "percent": 100}
    assert d.stop() == 0


def test_led_dimmer_ignores_bad_payloads_and_keeps_the_led(midge, workdir, led_tree, procs):
    d = start(procs, workdir, "led_dimmer", "-p", midge.port, "-b", "led", "--led", "lab:led",
              "--sysfs-root", led_tree)
    bfile = os.path.join(led_tree, "class/leds/lab:led/brightness")
    wait_for(lambda: "connected" in d.text(), what="dimmer connected")
    pub(midge.port, "lab/led/brightness", "300")
    wait_for(lambda: read(bfile) == "75", what="brightness 300")
    for bad in ["bogus", "2000", "-5", "101%", "12.5", "%"]:
        pub(midge.port, "lab/led/brightness", bad)
    wait_for(lambda: d.text().count("ignoring brightness") == 6, what="six ignored payloads")
    assert read(bfile) == "75"
    assert d.p.poll() is None


def test_led_dimmer_will_marks_it_offline_and_clean_stop_too(midge, workdir, led_tree, procs):
    d = start(procs, workdir, "led_dimmer", "-p", midge.port, "-b", "led", "--led", "lab:led",
              "--sysfs-root", led_tree)
    wait_for(lambda: "connected" in d.text(), what="dimmer connected")
    assert json.loads(sub(midge.port, "lab/led/status")[0])["online"] is True
    d.stop(signal.SIGKILL)  # the broker sees the socket drop: the will
    wait_for(lambda: json.loads(sub(midge.port, "lab/led/status")[0]) == {"online": False},
             what="will published")
    d2 = start(procs, workdir, "led_dimmer", "-p", midge.port, "-b", "led", "--led", "lab:led",
               "--sysfs-root", led_tree, "-i", "dimmer2")
    wait_for(lambda: json.loads(sub(midge.port, "lab/led/status")[0])["online"] is True,
             what="back online")
    assert d2.stop() == 0
    wait_for(lambda: json.loads(sub(midge.port, "lab/led/status")[0]) == {"online": False},
             what="offline after a clean stop")


def test_led_dimmer_pwm_backend_sets_period_enable_and_duty(midge, workdir, procs):
    root = os.path.join(workdir, "sys")
    chan = os.path.join(root, "class/pwm/pwmchip0/pwm1")
    write(os.path.join(root, "class/pwm/pwmchip0/export"), "")
    for f in ("period", "duty_cycle", "enable"):
        write(os.path.join(chan, f), "0\n")
    d = start(procs, workdir, "led_dimmer", "-p", midge.port, "-b", "pwm", "--pwm", "0:1",
              "--period", "20000", "--sysfs-root", root)
    wait_for(lambda: "connected" in d.text(), what="dimmer connected")
    assert read(os.path.join(chan, "period")) == "20000"
    assert read(os.path.join(chan, "enable")) == "1"
    assert read(os.path.join(root, "class/pwm/pwmchip0/export")) == ""  # already exported
    pub(midge.port, "lab/led/brightness", "1023")
    wait_for(lambda: read(os.path.join(chan, "duty_cycle")) == "20000", what="full duty")
    pub(midge.port, "lab/led/brightness", "25%")
    wait_for(lambda: read(os.path.join(chan, "duty_cycle")) == str(256 * 20000 // 1023),
             what="quarter duty")


def test_led_dimmer_pwm_exports_a_missing_channel(midge, workdir, procs):
    root = os.path.join(workdir, "sys")
    write(os.path.join(root, "class/pwm/pwmchip0/export"), "")
    d = start(procs, workdir, "led_dimmer", "-p", midge.port, "-b", "pwm", "--pwm", "0:2",
              "--sysfs-root", root)
    # A fake tree has no kernel to create pwm2 on export: the write is seen,
    # then the dimmer stops with a clear message instead of running blind.
    assert d.p.wait(10) == 1
    assert read(os.path.join(root, "class/pwm/pwmchip0/export")) == "2"
    assert "cannot set up" in d.text()


def test_led_dimmer_usage_errors(workdir):
    r = subprocess.run([example("led_dimmer"), "-b", "led"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2 and "--led NAME" in r.stderr
    r = subprocess.run([example("led_dimmer"), "-b", "laser"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2 and "unknown backend" in r.stderr
    r = subprocess.run([example("led_dimmer"), "--help"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0 and "0-1023" in r.stdout


# ---- dht_telemetry ----

@pytest.fixture
def iio_tree(workdir):
    root = os.path.join(workdir, "sys")
    other = os.path.join(root, "bus/iio/devices/iio:device0")
    write(os.path.join(other, "name"), "ads1015\n")
    dev = os.path.join(root, "bus/iio/devices/iio:device1")
    write(os.path.join(dev, "name"), "dht11\n")
    write(os.path.join(dev, "in_temp_input"), "23400\n")
    write(os.path.join(dev, "in_humidityrelative_input"), "45000\n")
    return root, dev


def test_dht_telemetry_publishes_iio_readings_at_the_requested_rate(midge, workdir, iio_tree,
                                                                    procs):
    root, dev = iio_tree
    s = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(midge.port),
                          "-t", "lab/dht11", "-C", "10", "-W", "15"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    t0 = time.monotonic()
    start(procs, workdir, "dht_telemetry", "-p", midge.port, "-b", "iio", "--sysfs-root", root,
          "--interval", "100", "-C", "10")
    out, _ = s.communicate(timeout=20)
    elapsed = time.monotonic() - t0
    lines = out.splitlines()
    assert len(lines) == 10
    readings = [json.loads(line) for line in lines]
    assert all(r["temperature"] == 23.4 and r["humidity"] == 45.0 for r in readings)
    ts = [r["ts"] for r in readings]
    assert ts == sorted(ts)
    assert 0.7 <= ts[-1] - ts[0] <= 2.0, "10 readings 100 ms apart, took %.2fs" % (ts[-1] - ts[0])
    assert elapsed < 10


def test_dht_telemetry_samples_at_the_sensor_limit_and_reports_failures(midge, workdir,
                                                                        iio_tree, procs):
    root, dev = iio_tree
    d = start(procs, workdir, "dht_telemetry", "-p", midge.port, "-b", "iio", "--sysfs-root",
              root, "--interval", "100", "--sample", "300")
    wait_for(lambda: sub(midge.port, "lab/dht11")[:1] != [], what="first reading")
    # The sensor fails (a read error every time): the error goes to the
    # status topic, readings keep the last good value, nothing crashes.
    temp = os.path.join(dev, "in_temp_input")
    os.remove(temp)
    os.mkdir(temp)  # reading a directory fails with EISDIR
    wait_for(lambda: "error" in json.loads(sub(midge.port, "lab/dht11/status")[0]),
             timeout=8, what="error on the status topic")
    assert json.loads(sub(midge.port, "lab/dht11")[0])["temperature"] == 23.4
    # The sensor comes back with a new value.
    os.rmdir(temp)
    write(temp, "25100\n")
    wait_for(lambda: json.loads(sub(midge.port, "lab/dht11")[0])["temperature"] == 25.1,
             timeout=8, what="new reading")
    assert json.loads(sub(midge.port, "lab/dht11/status")[0]) == {"online": True}
    assert d.p.poll() is None
    assert "sensor read failed" in d.text() and "sensor back" in d.text()
    assert d.stop() == 0


def test_dht_telemetry_without_a_dht11_says_so(workdir):
    root = os.path.join(workdir, "sys")
    write(os.path.join(root, "bus/iio/devices/iio:device0/name"), "ads1015\n")
    r = subprocess.run([example("dht_telemetry"), "-b", "iio", "--sysfs-root", root],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "no IIO device named dht11" in r.stderr


def test_dht_telemetry_help_explains_the_sampling_limit():
    r = subprocess.run([example("dht_telemetry"), "--help"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0 and "at most every 1-2 s" in r.stdout


# ---- the Python PC side ----

def test_python_controller_and_subscriber_drive_the_lab(midge, workdir, procs):
    d = start(procs, workdir, "led_dimmer", "-p", midge.port, "-b", "sim")
    wait_for(lambda: "connected" in d.text(), what="dimmer connected")
    r = subprocess.run([PY, os.path.join(EXAMPLES, "brightness_controller.py"), "--port",
                        str(midge.port), "75%", "100"], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: "100/1023" in d.text(), what="dimmer applied 100")
    assert " 767/1023 (75%)" in d.text()

    start(procs, workdir, "dht_telemetry", "-p", midge.port, "-b", "sim")
    r = subprocess.run([PY, os.path.join(EXAMPLES, "telemetry_subscriber.py"), "--port",
                        str(midge.port), "--count", "3"], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(line.endswith("%") and " C " in line for line in lines)


def test_dht_telemetry_republishes_its_status_after_reconnecting(workdir, procs):
    """The status is retained state: after the broker restarts (losing it),
    the reconnected sensor publishes it again, and readings resume."""
    from conftest import start_midge
    b = start_midge(workdir)
    port = b.port
    try:
        start(procs, workdir, "dht_telemetry", "-p", port, "-b", "sim")
        wait_for(lambda: json.loads(sub(port, "lab/dht11/status")[0]) == {"online": True},
                 what="first status")
        b.check_clean(b.stop())
        b = start_midge(workdir, port=port)
        wait_for(lambda: json.loads(sub(port, "lab/dht11/status", timeout=2)[0]) ==
                 {"online": True}, timeout=20, what="status after the broker restarted")
        assert json.loads(sub(port, "lab/dht11")[0])["humidity"] > 0
    finally:
        b.check_clean(b.stop())
