"""Raw-socket MQTT for tests that need exact bytes: builds every packet of
MQTT 3.1, 3.1.1 and 5.0 by hand (including wrong ones), reads and parses
replies, and bounds every wait with a timeout.

Properties are lists of (identifier, value) pairs, so order and repetition
(user properties) survive a round trip.
"""
import socket
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13
DISCONNECT, AUTH = 14, 15

NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
         7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

# v5 property identifiers
PAYLOAD_FORMAT = 0x01
MESSAGE_EXPIRY = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_ID = 0x0B
SESSION_EXPIRY = 0x11
ASSIGNED_CLIENT_ID = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTH_METHOD = 0x15
AUTH_DATA = 0x16
REQUEST_PROBLEM_INFO = 0x17
WILL_DELAY = 0x18
REQUEST_RESPONSE_INFO = 0x19
RESPONSE_INFO = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUB_AVAILABLE = 0x28
SUB_ID_AVAILABLE = 0x29
SHARED_SUB_AVAILABLE = 0x2A

_BYTE = {PAYLOAD_FORMAT, REQUEST_PROBLEM_INFO, REQUEST_RESPONSE_INFO, MAXIMUM_QOS,
         RETAIN_AVAILABLE, WILDCARD_SUB_AVAILABLE, SUB_ID_AVAILABLE, SHARED_SUB_AVAILABLE}
_U16 = {SERVER_KEEP_ALIVE, RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, TOPIC_ALIAS}
_U32 = {MESSAGE_EXPIRY, SESSION_EXPIRY, WILL_DELAY, MAXIMUM_PACKET_SIZE}
_VARINT = {SUBSCRIPTION_ID}
_STR = {CONTENT_TYPE, RESPONSE_TOPIC, ASSIGNED_CLIENT_ID, AUTH_METHOD, RESPONSE_INFO,
        SERVER_REFERENCE, REASON_STRING}
_BIN = {CORRELATION_DATA, AUTH_DATA}


class Closed(Exception):
    """The peer closed the connection."""


class Timeout(Exception):
    """Nothing (or not enough) arrived in time."""


# ---------------------------------------------------------------- encoding

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def mqstr(s):
    """A length-prefixed string; bytes are sent as given (for invalid UTF-8)."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return u16(len(s)) + s


def props(pairs):
    """Encodes a v5 property list (without checking which are allowed)."""
    body = bytearray()
    for pid, val in pairs or ():
        body += varint(pid)
        if pid in _BYTE:
            body.append(val)
        elif pid in _U16:
            body += u16(val)
        elif pid in _U32:
            body += u32(val)
        elif pid in _VARINT:
            body += varint(val)
        elif pid in _STR or pid in _BIN:
            body += mqstr(val)
        elif pid == USER_PROPERTY:
            body += mqstr(val[0]) + mqstr(val[1])
        else:
            raise ValueError("unknown property %#x" % pid)
    return varint(len(body)) + bytes(body)


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + bytes(body)


def connect(client_id="", version=4, clean=True, keepalive=60, will=None, username=None,
            password=None, properties=None, proto_name=None, flags_extra=0):
    """CONNECT. `will` is a dict: topic, payload, qos, retain, properties (v5)."""
    if proto_name is None:
        proto_name = "MQIsdp" if version == 3 else "MQTT"
    flags = flags_extra
    if clean:
        flags |= 0x02
    if will:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = mqstr(proto_name) + bytes([version, flags]) + u16(keepalive)
    if version == 5:
        body += props(properties)
    body += mqstr(client_id)
    if will:
        if version == 5:
            body += props(will.get("properties"))
        body += mqstr(will["topic"]) + mqstr(will.get("payload", b""))
    if username is not None:
        body += mqstr(username)
    if password is not None:
        body += mqstr(password)
    return packet(CONNECT, 0, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, mid=None, version=4,
            properties=None):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = mqstr(topic)
    if qos > 0:
        body += u16(1 if mid is None else mid)
    if version == 5:
        body += props(properties)
    return packet(PUBLISH, flags, body + payload)


def ack(ptype, mid, version=4, reason=None, properties=None):
    """PUBACK/PUBREC/PUBREL/PUBCOMP (PUBREL gets its mandatory flags 0x2)."""
    body = u16(mid)
    if version == 5 and (reason is not None or properties):
        body += bytes([reason or 0])
        if properties:
            body += props(properties)
    return packet(ptype, 2 if ptype == PUBREL else 0, body)


def subscribe(mid, filters, version=4, properties=None):
    """filters: list of (filter, options byte) or plain filter strings (QoS 0)."""
    body = u16(mid)
    if version == 5:
        body += props(properties)
    for f in filters:
        if isinstance(f, str):
            f = (f, 0)
        body += mqstr(f[0]) + bytes([f[1]])
    return packet(SUBSCRIBE, 2, body)


def sub_options(qos=0, no_local=False, rap=False, rh=0):
    return qos | (4 if no_local else 0) | (8 if rap else 0) | (rh << 4)


def unsubscribe(mid, filters, version=4, properties=None):
    body = u16(mid)
    if version == 5:
        body += props(properties)
    for f in filters:
        body += mqstr(f)
    return packet(UNSUBSCRIBE, 2, body)


def pingreq():
    return packet(PINGREQ, 0, b"")


def disconnect(version=4, reason=None, properties=None):
    body = b""
    if version == 5 and (reason is not None or properties):
        body = bytes([reason or 0]) + (props(properties) if properties else b"")
    return packet(DISCONNECT, 0, body)


def auth(reason=0, properties=None):
    return packet(AUTH, 0, bytes([reason]) + props(properties))


# ---------------------------------------------------------------- decoding

class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated packet")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def varint(self):
        n, mult = 0, 1
        for _ in range(4):
            b = self.byte()
            n += (b & 0x7F) * mult
            if not b & 0x80:
                return n
            mult *= 128
        raise ValueError("varint longer than 4 bytes")

    def binary(self):
        return self.take(self.u16())

    def string(self):
        return self.binary().decode("utf-8")

    def props(self):
        n = self.varint()
        end = self.pos + n
        out = []
        while self.pos < end:
            pid = self.varint()
            if pid in _BYTE:
                out.append((pid, self.byte()))
            elif pid in _U16:
                out.append((pid, self.u16()))
            elif pid in _U32:
                out.append((pid, self.u32()))
            elif pid in _VARINT:
                out.append((pid, self.varint()))
            elif pid in _STR:
                out.append((pid, self.string()))
            elif pid in _BIN:
                out.append((pid, self.binary()))
            elif pid == USER_PROPERTY:
                out.append((pid, (self.string(), self.string())))
            else:
                raise ValueError("unknown property %#x" % pid)
        if self.pos != end:
            raise ValueError("property length mismatch")
        return Props(out)


class Props(list):
    def get(self, pid, default=None):
        for k, v in self:
            if k == pid:
                return v
        return default

    def all(self, pid):
        return [v for k, v in self if k == pid]


class Packet:
    """One received packet; fields depend on the type (see parse())."""

    def __init__(self, ptype, flags, body):
        self.type = ptype
        self.flags = flags
        self.body = body
        self.props = Props()
        self.reason = None

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items() if k not in ("body",)}
        return "<%s %r>" % (NAMES.get(self.type, self.type), fields)


def parse(ptype, flags, body, version):
    """Decodes what a broker sends to a client."""
    p = Packet(ptype, flags, body)
    r = Reader(body)
    if ptype == CONNACK:
        p.session_present = bool(r.byte() & 1)
        p.reason = r.byte()
        if version == 5 and r.left():
            p.props = r.props()
    elif ptype == PUBLISH:
        p.qos = (flags >> 1) & 3
        p.retain = bool(flags & 1)
        p.dup = bool(flags & 8)
        p.topic = r.string()
        p.mid = r.u16() if p.qos else None
        if version == 5:
            p.props = r.props()
        p.payload = r.take(r.left())
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.mid = r.u16()
        p.reason = 0
        if version == 5 and r.left():
            p.reason = r.byte()
            if r.left():
                p.props = r.props()
    elif ptype in (SUBACK, UNSUBACK):
        p.mid = r.u16()
        if version == 5:
            p.props = r.props()
        p.codes = list(r.take(r.left()))
    elif ptype in (DISCONNECT, AUTH):
        p.reason = 0
        if r.left():
            p.reason = r.byte()
            if r.left():
                p.props = r.props()
    return p


# ---------------------------------------------------------------- the client

class Client:
    """One TCP connection to a broker that sends raw bytes and reads packets."""

    def __init__(self, port, host="127.0.0.1", version=4, timeout=5.0):
        self.version = version
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.eof = False
        self.next_mid = 1
        self.pending = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def mid(self):
        m = self.next_mid
        self.next_mid = self.next_mid % 65535 + 1
        return m

    def _fill(self, deadline):
        if self.eof:
            raise Closed()
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            raise Closed()
        if not chunk:
            self.eof = True
            raise Closed()
        self.buf += chunk

    def recv(self, timeout=None):
        """The next whole packet; raises Timeout or Closed."""
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if len(self.buf) >= 2:
                n, mult, i = 0, 1, 1
                complete = False
                while i < len(self.buf) and i <= 4:
                    b = self.buf[i]
                    n += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        complete = True
                        break
                if complete and len(self.buf) >= i + n:
                    head = self.buf[0]
                    body = bytes(self.buf[i:i + n])
                    del self.buf[:i + n]
                    return parse(head >> 4, head & 0x0F, body, self.version)
            self._fill(deadline)

    def expect(self, ptype, timeout=None):
        p = self.recv(timeout)
        assert p.type == ptype, "expected %s, got %r" % (NAMES[ptype], p)
        return p

    def nothing(self, timeout=0.5):
        """Asserts that no packet arrives within `timeout`."""
        try:
            p = self.recv(timeout)
        except Timeout:
            return
        raise AssertionError("unexpected packet %r" % p)

    def wait_closed(self, timeout=None):
        """Reads until the broker closes; returns the packets that arrived
        first. Raises Timeout if the connection is still open."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = []
        while True:
            try:
                got.append(self.recv(max(0.0, deadline - time.monotonic())))
            except Closed:
                return got
            except Timeout:
                raise Timeout("connection still open after %.1fs; got %r"
                              % (self.timeout if timeout is None else timeout, got))

    def is_open(self, timeout=0.3):
        """True if the connection stays open (no close) for `timeout`;
        packets arriving meanwhile are kept for later recv()."""
        try:
            p = self.recv(timeout)
        except Timeout:
            return True
        except Closed:
            return False
        self.pending.append(p)
        return True

    # high-level helpers

    def connect(self, client_id="", clean=True, keepalive=60, **kw):
        self.send(connect(client_id, version=self.version, clean=clean, keepalive=keepalive,
                          **kw))
        return self.expect(CONNACK)

    def subscribe(self, filters, properties=None):
        mid = self.mid()
        self.send(subscribe(mid, filters, self.version, properties))
        p = self.expect(SUBACK)
        assert p.mid == mid
        return p

    def unsubscribe(self, filters, properties=None):
        mid = self.mid()
        self.send(unsubscribe(mid, filters, self.version, properties))
        p = self.expect(UNSUBACK)
        assert p.mid == mid
        return p

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None, mid=None):
        """Publishes and completes the QoS flow; returns the final ack or None."""
        if qos == 0:
            self.send(publish(topic, payload, 0, retain, version=self.version,
                              properties=properties))
            return None
        mid = mid or self.mid()
        self.send(publish(topic, payload, qos, retain, mid=mid, version=self.version,
                          properties=properties))
        if qos == 1:
            p = self.expect(PUBACK)
            assert p.mid == mid
            return p
        p = self.expect(PUBREC)
        assert p.mid == mid
        if p.reason is not None and p.reason >= 0x80:
            return p
        self.send(ack(PUBREL, mid, self.version))
        p = self.expect(PUBCOMP)
        assert p.mid == mid
        return p

    def recv_publish(self, timeout=None, ack_it=True):
        """The next PUBLISH (completing its QoS flow unless ack_it is False)."""
        p = self.expect(PUBLISH, timeout)
        if ack_it and p.qos == 1:
            self.send(ack(PUBACK, p.mid, self.version))
        elif ack_it and p.qos == 2:
            self.send(ack(PUBREC, p.mid, self.version))
            # later PUBLISHes may arrive before our PUBREL: keep them
            others = []
            for _ in range(1000):
                rel = self.recv(timeout)
                if rel.type == PUBREL and rel.mid == p.mid:
                    break
                others.append(rel)
            else:
                raise AssertionError("no PUBREL for mid %d" % p.mid)
            self.pending = others + self.pending
            self.send(ack(PUBCOMP, p.mid, self.version))
        return p

    def ping(self):
        self.send(pingreq())
        self.expect(PINGRESP)

    def disconnect(self, reason=None, properties=None):
        try:
            self.send(disconnect(self.version, reason, properties))
        except OSError:
            pass
        self.close()


def connected(port, client_id="", version=4, clean=True, keepalive=60, **kw):
    """A Client that has completed CONNECT with success."""
    c = Client(port, version=version)
    ca = c.connect(client_id, clean=clean, keepalive=keepalive, **kw)
    assert ca.reason == 0, "CONNACK %r" % ca
    c.connack = ca
    return c
