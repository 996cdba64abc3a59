"""Helpers for the WebSocket tests: MQTT.js from tests/integration/node
(installed with `npm ci` on first use), certificates made with openssl, a
broker with MQTT, ws:// and wss:// listeners, and a raw RFC 6455 client."""
import base64
import fcntl
import hashlib
import os
import socket
import struct
import subprocess

from conftest import free_port, start_midge, start_mosquitto, wait_for_port

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def npm_ci_once(directory):
    """Runs `npm ci` in directory unless a previous run completed. Test
    processes run in parallel (pytest -n): the first takes a lock and
    installs, the others wait for it, and a marker written only after a
    successful install tells them it is done (npm creates node_modules
    long before it has finished filling it)."""
    marker = os.path.join(directory, "node_modules", ".midge-npm-ci-done")
    with open(os.path.join(directory, ".npm-ci.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(marker):
            return
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=directory,
                           capture_output=True, timeout=300)
        assert r.returncode == 0, "npm ci failed: %s" % r.stderr.decode()[-2000:]
        open(marker, "w").close()


def ensure_mqttjs():
    """Installs MQTT.js from the committed package-lock.json if needed."""
    npm_ci_once(NODE_DIR)


def mqttjs(*args, wait=20):
    """Starts the MQTT.js client script (see node/ws_client.js)."""
    return subprocess.Popen(["node", os.path.join(NODE_DIR, "ws_client.js")] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=NODE_DIR)


def make_cert(workdir):
    """A self-signed server certificate for 127.0.0.1; returns (cert, key)."""
    cert = os.path.join(workdir, "server.crt")
    key = os.path.join(workdir, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Ports:
    def __init__(self):
        self.ws = free_port()
        self.wss = free_port()


def start_ws_broker(kind, workdir, tls=False):
    """midge or Mosquitto with MQTT on b.port, WebSockets on ports.ws and,
    with tls, WebSockets over TLS on ports.wss. Returns (broker, ports, cafile)."""
    ports = Ports()
    extra = "listener %d 127.0.0.1\nprotocol websockets\n" % ports.ws
    cafile = None
    if tls:
        cafile, key = make_cert(workdir)
        extra += ("listener %d 127.0.0.1\nprotocol websockets\ncertfile %s\nkeyfile %s\n"
                  % (ports.wss, cafile, key))
    if kind == "mosquitto":
        b = start_mosquitto(workdir, extra_config=extra)
    else:
        b = start_midge(workdir, config="listener {port} 127.0.0.1\nallow_anonymous true\n" +
                        extra.replace("{", "{{").replace("}", "}}"))
    wait_for_port(ports.ws)
    if tls:
        wait_for_port(ports.wss)
    return b, ports, cafile


# ---- a raw WebSocket client ----

def upgrade_request(key, protocol=b"mqtt", version=b"13", extra=b""):
    req = (b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
           b"Sec-WebSocket-Version: " + version + b"\r\n")
    if protocol:
        req += b"Sec-WebSocket-Protocol: " + protocol + b"\r\n"
    return req + extra + b"\r\n"


def read_http_response(s, limit=16384):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin1"), rest


def ws_open(port):
    """Connects and completes the upgrade; returns (socket, leftover bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16))
    s.sendall(upgrade_request(key))
    head, rest = read_http_response(s)
    assert head.startswith("HTTP/1.1 101"), head
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    assert "sec-websocket-accept: " + accept.lower() in head.lower(), head
    assert "sec-websocket-protocol: mqtt" in head.lower(), head
    return s, rest


def frame(opcode, payload, fin=True, masked=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not masked:
        return h + payload
    key = os.urandom(4)
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class FrameReader:
    """Reads server frames (which must be unmasked) from a socket."""

    def __init__(self, s, buf=b""):
        self.s = s
        self.buf = buf

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def frame(self):
        """Returns (fin, opcode, payload)."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frames must not be masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def eof(self, timeout=5):
        """True once the server closed the TCP connection (data is dropped)."""
        self.s.settimeout(timeout)
        try:
            while self.s.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        return True
