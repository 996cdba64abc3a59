"""password_file, allow_anonymous and acl_file in the broker, against midge
and against Mosquitto where both must behave alike; the SUBSCRIBE refusal
is midge's own (Mosquitto grants every filter and filters at delivery).
"""
import os
import subprocess

import pytest

import mqttraw
from conftest import midge_binary, start_midge, start_mosquitto

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"

ACL = """# anonymous clients
topic read public/#

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read public/#

user bob
topic readwrite bob/#
topic write public/#

pattern readwrite clients/%c/#
"""


def make_passwords(workdir, hash_args=()):
    path = os.path.join(workdir, "pw")
    for i, (user, pw) in enumerate((("alice", "a-pass"), ("bob", "b-pass"), ("carol", "c-pass"))):
        args = [MOSQUITTO_PASSWD] + list(hash_args) + (["-c"] if i == 0 else []) + \
            ["-b", path, user, pw]
        subprocess.run(args, check=True, capture_output=True, timeout=30)
    return path


def start(kind, workdir, config):
    # Mosquitto running as root reads these files as user "mosquitto".
    os.chmod(workdir, 0o755)
    if kind == "mosquitto":
        return start_mosquitto(workdir, extra_config=config)
    return start_midge(workdir, config="listener {port} 127.0.0.1\n" +
                       config.replace("{", "{{").replace("}", "}}"))


@pytest.fixture(params=["midge", "mosquitto"])
def secured(request, workdir):
    """A factory starting this test's broker with password and ACL files."""
    started = []

    def run(extra="", acl=ACL, hash_args=()):
        pw = make_passwords(workdir, hash_args)
        conf = "password_file %s\nallow_anonymous false\n" % pw
        if acl is not None:
            path = os.path.join(workdir, "acl")
            with open(path, "w") as f:
                f.write(acl)
            conf += "acl_file %s\n" % path
        b = start(request.param, workdir, conf + extra)
        b.kind = request.param
        started.append(b)
        return b

    yield run
    for b in started:
        rc = b.stop()
        if b.name == "midge":
            b.check_clean(rc)


def connack(port, version, **kw):
    c = mqttraw.Client(port, version=version)
    try:
        return c.connect("c-%d" % version, **kw).reason
    finally:
        c.close()


@pytest.mark.parametrize("hash_args", [(), ("-H", "sha512")])
@pytest.mark.parametrize("version", [4, 5])
def test_password_rules(secured, version, hash_args):
    b = secured(acl=None, hash_args=hash_args)
    refused = 5 if version == 4 else 0x87
    assert connack(b.port, version, username="alice", password="a-pass") == 0
    assert connack(b.port, version, username="alice", password="wrong") == refused
    assert connack(b.port, version, username="alice") == refused
    assert connack(b.port, version, username="dave", password="a-pass") == refused
    assert connack(b.port, version) == refused


def test_anonymous_allowed_with_password_file(secured):
    b = secured("allow_anonymous true\n", acl=None)
    assert connack(b.port, 4) == 0
    assert connack(b.port, 4, username="bob", password="b-pass") == 0
    assert connack(b.port, 4, username="bob", password="a-pass") == 5


def login(b, user, version=5, client_id=None):
    return mqttraw.connected(b.port, client_id or ("id-" + user), version=version,
                             username=user, password=user[0] + "-pass")


def test_acl_write_read_deny(secured):
    b = secured()
    reader = login(b, "alice", client_id="alice-reader")
    alice = login(b, "alice")
    bob = login(b, "bob")
    try:
        assert reader.subscribe([("alice/#", 1), ("public/#", 1)]).codes == [1, 1]
        # write allowed, read allowed
        assert alice.publish("alice/a", b"1", qos=1).reason in (0, 0x10)
        assert reader.recv_publish().topic == "alice/a"
        # bob may write public/#, alice may read it
        assert bob.publish("public/news", b"2", qos=1).reason in (0, 0x10)
        assert reader.recv_publish().topic == "public/news"
        # bob may not write into alice's tree: PUBACK 0x87 (v5), nothing delivered
        assert bob.publish("alice/a", b"3", qos=1).reason == 0x87
        # deny beats alice's own readwrite
        assert alice.publish("alice/secret/k", b"4", qos=1).reason == 0x87
        reader.nothing(0.5)
        # QoS 2 denied: PUBREC 0x87 ends the flow
        assert bob.publish("alice/b", b"5", qos=2).reason == 0x87
        reader.nothing(0.3)
    finally:
        for c in (reader, alice, bob):
            c.disconnect()


def test_acl_denied_publish_v311_is_acknowledged(secured):
    b = secured()
    bob = login(b, "bob", version=4)
    try:
        assert bob.publish("alice/a", b"x", qos=1).reason == 0
        assert bob.publish("alice/a", b"x", qos=2).type == mqttraw.PUBCOMP
        bob.ping()
    finally:
        bob.disconnect()


def test_acl_read_filtered_at_delivery(secured):
    """A wildcard subscription only delivers what the client may read."""
    b = secured()
    alice = login(b, "alice", version=4)
    bob = login(b, "bob", version=4)
    try:
        alice.subscribe([("#", 0)])
        bob.publish("bob/x", b"private", qos=1)
        bob.publish("public/y", b"open", qos=1)
        p = alice.recv_publish()
        assert (p.topic, p.payload) == ("public/y", b"open")
        alice.nothing(0.3)
    finally:
        alice.disconnect()
        bob.disconnect()


def test_acl_patterns(secured):
    b = secured()
    carol = login(b, "carol", client_id="dev1")
    try:
        assert carol.subscribe([("clients/dev1/#", 0)]).codes == [0]
        carol.publish("clients/dev1/t", b"x", qos=0)
        assert carol.recv_publish().topic == "clients/dev1/t"
        assert carol.publish("clients/dev2/t", b"x", qos=1).reason == 0x87
    finally:
        carol.disconnect()


def test_acl_anonymous_section(secured):
    b = secured("allow_anonymous true\n")
    anon = mqttraw.connected(b.port, "anon", version=5)
    bob = login(b, "bob")
    try:
        anon.subscribe([("public/#", 0)])
        assert anon.publish("public/x", b"no", qos=1).reason == 0x87
        bob.publish("public/x", b"yes", qos=1)
        assert anon.recv_publish().payload == b"yes"
    finally:
        anon.disconnect()
        bob.disconnect()


@pytest.mark.parametrize("version,code", [(4, 0x80), (5, 0x87)])
def test_subscribe_refused_when_nothing_readable(workdir, version, code):
    """Beyond Mosquitto: a filter the client can never read is refused in
    the SUBACK; a partly readable one is granted."""
    pw = make_passwords(workdir)
    acl = os.path.join(workdir, "acl")
    with open(acl, "w") as f:
        f.write(ACL)
    b = start_midge(workdir, config="listener {port} 127.0.0.1\npassword_file %s\n"
                    "acl_file %s\n" % (pw, acl))
    try:
        alice = login(b, "alice", version=version)
        codes = alice.subscribe([("bob/#", 1), ("alice/secret/#", 1), ("#", 1),
                                 ("alice/+", 1), ("$share/g/bob/x", 1)]).codes
        assert codes == [code, code, 1, 1, code]
        alice.disconnect()
    finally:
        b.check_clean(b.stop())


def test_will_on_denied_topic_is_dropped(secured):
    """As Mosquitto 2.0: the connection is accepted, the will never sent."""
    b = secured()
    bob = login(b, "bob")
    reader = login(b, "alice", client_id="alice-reader")
    try:
        bob.subscribe([("bob/#", 0)])
        reader.subscribe([("alice/#", 0)])
        for topic in ("bob/will", "alice/will"):
            c = mqttraw.Client(b.port, version=5)
            ca = c.connect("w-" + topic, username="alice", password="a-pass",
                           will={"topic": topic, "payload": b"gone"})
            assert ca.reason == 0
            c.close()  # no DISCONNECT: the will is due
        p = reader.recv_publish()
        assert (p.topic, p.payload) == ("alice/will", b"gone")
        bob.nothing(0.5)
    finally:
        bob.disconnect()
        reader.disconnect()


@pytest.mark.parametrize("name,text,where", [
    ("pw", "alice:plaintext\n", "pw:1: "),
    ("pw", "# users\nalice:$7$0$abc$def\n", "pw:2: "),
    ("acl", "user alice\ntopic read a/#/b\n", "acl:2: "),
    ("acl", "topic nonsense a b\n", "acl:1: "),
])
def test_bad_file_stops_start(workdir, name, text, where):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    directive = "password_file" if name == "pw" else "acl_file"
    conf = os.path.join(workdir, "midge.conf")
    with open(conf, "w") as f:
        f.write("listener 1 127.0.0.1\n%s %s\n" % (directive, path))
    r = subprocess.run([midge_binary(), "-c", conf], capture_output=True, timeout=30, text=True)
    assert r.returncode != 0
    assert where in r.stdout + r.stderr, r.stdout + r.stderr


def test_config_error_names_file_and_line(workdir):
    conf = os.path.join(workdir, "midge.conf")
    with open(conf, "w") as f:
        f.write("listener 1 127.0.0.1\n\nallow_anonymous perhaps\n")
    r = subprocess.run([midge_binary(), "-c", conf], capture_output=True, timeout=30, text=True)
    assert r.returncode != 0
    assert "midge.conf:3: invalid allow_anonymous value 'perhaps'" in r.stdout + r.stderr


def _hup_and_wait(b, marker_count):
    """SIGHUP, then wait (bounded) until the log shows one more reload."""
    import signal
    import time
    b.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if b.log_text().count("Reloading config.") >= marker_count:
            time.sleep(0.2)  # the swap follows the log line
            return
        time.sleep(0.05)
    raise AssertionError("no reload in the log:\n" + b.log_text()[-2000:])


def test_sighup_reloads_passwords_and_acl(workdir):
    pw = make_passwords(workdir)
    acl = os.path.join(workdir, "acl")
    with open(acl, "w") as f:
        f.write(ACL)
    b = start_midge(workdir, config="listener {port} 127.0.0.1\npassword_file %s\n"
                    "acl_file %s\n" % (pw, acl))
    try:
        reader = login(b, "alice", client_id="alice-reader")
        writer = login(b, "alice")
        assert reader.subscribe([("alice/#", 0)]).codes == [0]
        writer.publish("alice/1", b"before", qos=1)
        assert reader.recv_publish().payload == b"before"

        # New password for alice, and alice loses read access to alice/#.
        subprocess.run([MOSQUITTO_PASSWD, "-b", pw, "alice", "new-pass"], check=True,
                       capture_output=True, timeout=30)
        with open(acl, "w") as f:
            f.write(ACL.replace("topic readwrite alice/#", "topic write alice/#"))
        _hup_and_wait(b, 1)

        # Connected clients stay connected; the new ACL applies to them.
        reader.ping()
        writer.publish("alice/2", b"after", qos=1)
        reader.nothing(0.5)
        assert connack(b.port, 5, username="alice", password="a-pass") == 0x87
        assert connack(b.port, 5, username="alice", password="new-pass") == 0

        # A broken file on reload: logged with file:line, old settings kept.
        with open(pw, "a") as f:
            f.write("mallory:plaintext\n")
        _hup_and_wait(b, 2)
        assert connack(b.port, 5, username="alice", password="new-pass") == 0
        import time
        deadline = time.monotonic() + 5
        while "keeping the previous" not in b.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "pw:%d: " % 4 in b.log_text()
        assert "keeping the previous" in b.log_text()
        reader.ping()
        reader.disconnect()
        writer.disconnect()
    finally:
        b.check_clean(b.stop())


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_pki(d):
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "2", "-subj", "/CN=midge test CA", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, subj, ext in (("server", "/CN=localhost", ["-extfile", "server.ext"]),
                            ("client", "/O=midge/CN=device1", [])):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                 name + ".csr", "-subj", subj, cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".crt", "-days", "2", *ext, cwd=d)


def test_certificate_identity_is_the_acl_username(workdir):
    """use_identity_as_username: the client certificate's CN is the username
    the ACL sees; no password is asked."""
    _make_pki(workdir)
    acl = os.path.join(workdir, "acl")
    with open(acl, "w") as f:
        f.write("user device1\ntopic readwrite dev/#\n")
    p = lambda n: os.path.join(workdir, n)  # noqa: E731
    b = start_midge(workdir, config="listener {port} 127.0.0.1\ncafile %s\ncertfile %s\n"
                    "keyfile %s\nrequire_certificate true\nuse_identity_as_username true\n"
                    "acl_file %s\n" % (p("ca.crt"), p("server.crt"), p("server.key"), acl))
    try:
        tls = ["--cafile", p("ca.crt"), "--cert", p("client.crt"), "--key", p("client.key")]
        r = subprocess.run(["/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", str(b.port),
                            "-V", "5", "-d", "-t", "dev/#", "-t", "other/#", "-W", "1"] + tls,
                           capture_output=True, timeout=30, text=True)
        assert "Subscribed (mid: 1): 0, 135" in r.stdout, r.stdout + r.stderr
        # Without a client certificate the TLS handshake itself fails.
        r = subprocess.run(["/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", str(b.port),
                            "--cafile", p("ca.crt"), "-t", "dev/x", "-m", "m"],
                           capture_output=True, timeout=30, text=True)
        assert r.returncode != 0
    finally:
        b.check_clean(b.stop())


def test_per_listener_client_id_settings(workdir):
    """per_listener_settings: allow_zero_length_clientid and auto_id_prefix
    follow the listener the client came in on."""
    from conftest import free_port
    other = free_port()
    b = start_midge(workdir, config="per_listener_settings true\n"
                    "listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "allow_zero_length_clientid false\n"
                    "listener %d 127.0.0.1\nallow_anonymous true\nauto_id_prefix lst2-\n" % other)
    try:
        c = mqttraw.Client(b.port, version=5)
        assert c.connect("").reason == 0x85
        c.close()
        c = mqttraw.Client(other, version=5)
        ca = c.connect("")
        assert ca.reason == 0
        assigned = dict(ca.props).get(mqttraw.ASSIGNED_CLIENT_ID)
        assert assigned.startswith("lst2-"), ca
        c.disconnect()
    finally:
        b.check_clean(b.stop())
