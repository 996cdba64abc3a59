"""Bad input on a WebSocket listener: bytes that are not an upgrade request,
refused upgrades, unmasked, text, oversized and reserved frames, and the
control frames (ping, close) a raw RFC 6455 client sends. Each refusal
must leave the broker serving everyone else."""
import base64
import os
import socket
import struct

import pytest

import mqttraw
from peers import mosquitto_pub, mosquitto_sub, sub_output
from ws_util import FrameReader, frame, read_http_response, start_ws_broker, upgrade_request, ws_open

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


@pytest.fixture
def wsb(workdir):
    b, ports, _ = start_ws_broker("midge", workdir)
    yield b, ports
    b.check_clean(b.stop())


def assert_serving(b, ws_port):
    """A TCP subscriber gets a message published over WebSockets."""
    sub = mosquitto_sub(b.port, "alive", count=1, wait=10)
    for _ in range(25):
        s, rest = ws_open(ws_port)
        r = FrameReader(s, rest)
        s.sendall(frame(OP_BINARY, mqttraw.connect(client_id="alive-pub")))
        assert r.frame()[1] == OP_BINARY  # CONNACK
        s.sendall(frame(OP_BINARY, mqttraw.publish("alive", b"yes") + mqttraw.disconnect()))
        r.eof()
        s.close()
        try:
            sub.wait(0.2)
            break
        except Exception:
            pass
    rc, out, err = sub_output(sub)
    assert rc == 0 and out.strip() == "yes", err


def expect_close(r, code):
    fin, op, payload = r.frame()
    assert op == OP_CLOSE, (op, payload)
    assert struct.unpack(">H", payload[:2])[0] == code
    assert r.eof()


def test_ws_non_websocket_bytes_refused(wsb):
    b, ports = wsb
    # An MQTT CONNECT straight to the WebSocket port.
    s = socket.create_connection(("127.0.0.1", ports.ws), timeout=5)
    s.sendall(mqttraw.connect(client_id="confused"))
    head, _ = read_http_response(s)
    assert head.startswith("HTTP/1.1 400"), head
    assert FrameReader(s).eof()
    s.close()
    # Random binary, and a TLS ClientHello-like start.
    for junk in (os.urandom(300), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(50)):
        s = socket.create_connection(("127.0.0.1", ports.ws), timeout=5)
        s.sendall(junk)
        head, _ = read_http_response(s)
        assert head.startswith("HTTP/1.1 400") or head == "", head
        s.close()
    assert_serving(b, ports.ws)
    assert "bad WebSocket upgrade request" in b.log_text()


@pytest.mark.parametrize("req,status", [
    (upgrade_request(b"dGhlIHNhbXBsZSBub25jZQ==", version=b"8"), "426"),
    (upgrade_request(b"bad", ), "400"),
    (upgrade_request(b"dGhlIHNhbXBsZSBub25jZQ==", protocol=b"chat"), "400"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    (upgrade_request(b"dGhlIHNhbXBsZSBub25jZQ==", extra=b"X-Pad: " + b"a" * 9000 + b"\r\n"), "431"),
])
def test_ws_bad_upgrade_refused(wsb, req, status):
    b, ports = wsb
    s = socket.create_connection(("127.0.0.1", ports.ws), timeout=5)
    try:
        s.sendall(req)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the 431 may come before all 9 KB are sent
    head, _ = read_http_response(s)
    assert head.startswith("HTTP/1.1 " + status), head
    if status == "426":
        assert "Sec-WebSocket-Version: 13" in head
    s.close()
    assert_serving(b, ports.ws)


def test_ws_upgrade_trickled_byte_by_byte(wsb):
    b, ports = wsb
    s = socket.create_connection(("127.0.0.1", ports.ws), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16))
    for i, byte in enumerate(upgrade_request(key)):
        s.send(bytes([byte]))
    head, rest = read_http_response(s)
    assert head.startswith("HTTP/1.1 101"), head
    s.close()


def test_ws_unmasked_frame_closes_1002(wsb):
    b, ports = wsb
    s, rest = ws_open(ports.ws)
    s.sendall(frame(OP_BINARY, mqttraw.connect(client_id="unmasked"), masked=False))
    expect_close(FrameReader(s, rest), 1002)
    s.close()
    assert_serving(b, ports.ws)


def test_ws_text_frame_closes_1003(wsb):
    b, ports = wsb
    s, rest = ws_open(ports.ws)
    s.sendall(frame(OP_TEXT, b"hello"))
    expect_close(FrameReader(s, rest), 1003)
    s.close()


def test_ws_reserved_bits_and_opcode_close_1002(wsb):
    b, ports = wsb
    for f in (frame(OP_BINARY, b"\xc0\x00", rsv=4), frame(3, b""), frame(OP_CONT, b"x")):
        s, rest = ws_open(ports.ws)
        s.sendall(f)
        expect_close(FrameReader(s, rest), 1002)
        s.close()


def test_ws_oversized_frame_refused_1009(wsb):
    b, ports = wsb
    # Before CONNECT a packet may be at most 256 KiB: a frame claiming 1 MiB
    # is refused from its header, without waiting for the payload.
    s, rest = ws_open(ports.ws)
    s.sendall(bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 20) + b"\x01\x02\x03\x04")
    expect_close(FrameReader(s, rest), 1009)
    s.close()
    # Same after CONNECT with a 2^62 length.
    s, rest = ws_open(ports.ws)
    r = FrameReader(s, rest)
    s.sendall(frame(OP_BINARY, mqttraw.connect(client_id="huge")))
    assert r.frame()[2][:1] == b"\x20"  # CONNACK
    s.sendall(bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 62) + b"\x01\x02\x03\x04")
    expect_close(r, 1009)
    s.close()
    assert_serving(b, ports.ws)


def test_ws_fragments_ping_close_handshake(wsb):
    b, ports = wsb
    s, rest = ws_open(ports.ws)
    r = FrameReader(s, rest)
    # CONNECT fragmented over three frames with a ping between them, and
    # SUBSCRIBE + PINGREQ in one frame.
    c = mqttraw.connect(client_id="frag")
    s.sendall(frame(OP_BINARY, c[:3], fin=False) + frame(OP_PING, b"are you there") +
              frame(OP_CONT, c[3:7], fin=False))
    s.sendall(frame(OP_CONT, c[7:]))
    got = [r.frame(), r.frame()]
    assert (True, OP_PONG, b"are you there") in got
    connack = [p for f, op, p in got if op == OP_BINARY]
    assert connack and connack[0][:2] == b"\x20\x02", got
    s.sendall(frame(OP_BINARY, mqttraw.subscribe(1, [("frag/t", 0)]) + mqttraw.pingreq()))
    stream = b""
    while len(stream) < 7:  # SUBACK (5) + PINGRESP (2), however framed
        fin, op, p = r.frame()
        assert op == OP_BINARY and fin
        stream += p
    assert stream == b"\x90\x03\x00\x01\x00\xd0\x00", stream
    # A message from TCP arrives as a binary frame.
    mosquitto_pub(b.port, "frag/t", "over-tcp")
    fin, op, p = r.frame()
    assert op == OP_BINARY and p.endswith(b"over-tcp")
    # Close handshake: our status is echoed, then the TCP connection ends.
    s.sendall(frame(OP_CLOSE, struct.pack(">H", 1000) + b"bye"))
    expect_close(r, 1000)
    s.close()
    assert "frag closed its connection" in b.log_text()


def test_ws_mqtt_error_sends_close_1002(wsb):
    b, ports = wsb
    s, rest = ws_open(ports.ws)
    # A malformed MQTT remaining length (five bytes) inside a valid frame.
    s.sendall(frame(OP_BINARY, b"\x10\xff\xff\xff\xff\x01"))
    expect_close(FrameReader(s, rest), 1002)
    s.close()
