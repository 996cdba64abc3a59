"""`midge -d` runs in the background and `pid_file` names the process."""
import os
import signal
import subprocess
import time

from conftest import free_port, midge_binary, wait_for_port


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def wait_gone(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def write_conf(workdir, port, extra=""):
    path = os.path.join(workdir, "d.conf")
    with open(path, "w") as f:
        # user root: the pid file lives in the test's private directory,
        # which user mosquitto could not unlink it from.
        f.write("listener %d 127.0.0.1\nallow_anonymous true\nuser root\npid_file %s\n%s"
                % (port, os.path.join(workdir, "midge.pid"), extra))
    return path


def test_daemon_detaches_writes_pid_file_and_stops_on_sigterm(workdir):
    port = free_port()
    log = open(os.path.join(workdir, "daemon.log"), "w")
    r = subprocess.run([midge_binary(), "-d", "-c", write_conf(workdir, port)], stdout=log,
                       stderr=log, timeout=10)
    assert r.returncode == 0  # the foreground process returns at once
    pidfile = os.path.join(workdir, "midge.pid")
    # The detached child writes the file after the foreground process has
    # returned (daemon(3), as Mosquitto): give it a moment under load.
    deadline = time.monotonic() + 10
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        assert time.monotonic() < deadline, "no pid file written"
        time.sleep(0.05)
    pid = int(open(pidfile).read())
    try:
        assert pid != os.getpid() and alive(pid)
        wait_for_port(port)
        ok = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "d",
                             "-m", "x"], timeout=10)
        assert ok.returncode == 0
        os.kill(pid, signal.SIGTERM)
        assert wait_gone(pid), "daemon still running after SIGTERM"
        assert not os.path.exists(pidfile), "pid file left behind"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_pid_file_in_the_foreground_names_the_broker(workdir):
    port = free_port()
    p = subprocess.Popen([midge_binary(), "-c", write_conf(workdir, port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=p)
        assert int(open(os.path.join(workdir, "midge.pid")).read()) == p.pid
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    assert not os.path.exists(os.path.join(workdir, "midge.pid"))


def test_unwritable_pid_file_stops_the_start(workdir):
    port = free_port()
    path = os.path.join(workdir, "d.conf")
    with open(path, "w") as f:
        f.write("listener %d 127.0.0.1\npid_file %s/no/such/dir/midge.pid\n" % (port, workdir))
    r = subprocess.run([midge_binary(), "-c", path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "pid file" in (r.stdout + r.stderr)
