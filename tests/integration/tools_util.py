"""Helpers for the midge_pub / midge_sub / midge_rr suites."""
import os
import subprocess
import threading
import time

import pytest

from conftest import BUILD, start_midge, start_mosquitto

TIMEOUT = 20


def tool(name):
    return os.path.join(BUILD, name)


def tools_built():
    return all(os.path.exists(tool(n)) for n in ("midge_pub", "midge_sub", "midge_rr"))


needs_tools = pytest.mark.skipif(not tools_built(),
                                 reason="midge_pub/sub/rr not built (needs libmidge)")


# The tools read defaults from $XDG_CONFIG_HOME/<tool>: point it where
# nothing is, so a developer's own defaults never change a test.
ENV = dict(os.environ, XDG_CONFIG_HOME=os.path.join(os.path.dirname(__file__), "no-such-dir"))


def run(argv, input=None, timeout=TIMEOUT, env=None):
    """Runs a tool to completion; returns CompletedProcess with bytes."""
    if argv[0] in ("midge_pub", "midge_sub", "midge_rr"):
        argv = [tool(argv[0])] + list(argv[1:])
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=env or ENV)


def addr(broker):
    return ["-h", broker.host, "-p", str(broker.port)]


class Sub:
    """A subscriber started in the background with -d; ready() waits for its
    SUBACK. Debug lines ("Client ...") are kept apart from the messages."""

    def __init__(self, argv, debug_marker=b"SUBACK"):
        if argv[0] in ("midge_sub", "midge_rr"):
            argv = [tool(argv[0])] + list(argv[1:])
        self.argv = argv
        self.marker = debug_marker
        self.proc = subprocess.Popen(argv + ["-d"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=ENV)
        self.lines = []
        self.debug = []
        self.ready_evt = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(b"Client ") or line.startswith(b"Connection lost"):
                self.debug.append(line)
                if self.marker in line:
                    self.ready_evt.set()
            else:
                self.lines.append(line)

    def ready(self, timeout=10):
        assert self.ready_evt.wait(timeout), "subscriber never got SUBACK: %r" % self.debug
        return self

    def wait(self, timeout=TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.reader.join(5)
        self.stderr = self.proc.stderr.read()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)


def wait_until(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def midge_built():
    return os.path.exists(os.path.join(BUILD, "midge"))


@pytest.fixture
def broker(broker_kind, workdir):
    """Mosquitto, and midge once its broker is built. Through conftest's
    broker_kind, so known_gaps.txt applies to the midge runs only."""
    if broker_kind == "midge":
        if not midge_built():
            pytest.skip("midge broker not built yet")
        b = start_midge(workdir)
        yield b
        b.check_clean(b.stop())
    else:
        b = start_mosquitto(workdir)
        yield b
        b.stop()
