"""TLS listeners with real peers: mosquitto_pub/sub and paho-mqtt, server
authentication only and mutual, TLS 1.2 and 1.3, and what must be refused
cleanly (no client certificate where one is required, an expired one, one
from another CA, plaintext MQTT to the TLS port) while the broker goes on
serving everyone else. Each test runs against midge and against Mosquitto
given the same files; every certificate is made by openssl for the run."""
import os
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from peers import V5, V311, Paho

MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = "/usr/bin/mosquitto_sub"
# A minimal MQTT 3.1.1 CONNECT (client id "abcd", clean session, keep-alive 60).
CONNECT_311 = bytes([0x10, 0x10, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C, 0x00,
                                                                  0x04]) + b"abcd"

CA_CONF = """[ca]
default_ca = ca_here
[ca_here]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
copy_extensions = none
[anything]
commonName = supplied
"""


def openssl(d, *args):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name, cn):
    openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".pem", "-days", "2", "-subj", "/CN=" + cn)


def issue(d, name, cn, ext, ca="ca", dates=None):
    """A key and certificate signed by `ca`; dates=(start, end) in
    openssl's YYYYMMDDHHMMSSZ form makes one outside today's validity."""
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n" + ext)
    openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + cn)
    if dates is None:
        openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                ca + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "2",
                "-extfile", name + ".ext")
    else:
        openssl(d, "ca", "-batch", "-config", "ca.cnf", "-keyfile", ca + ".key", "-cert",
                ca + ".pem", "-in", name + ".csr", "-out", name + ".pem", "-startdate", dates[0],
                "-enddate", dates[1], "-extfile", name + ".ext", "-notext")


@pytest.fixture(scope="module")
def pki():
    # World-readable: Mosquitto reads the files after giving up root.
    with tempfile.TemporaryDirectory(prefix="midge-tls-") as d:
        make_ca(d, "ca", "midge TLS test CA")
        make_ca(d, "other", "some other CA")
        issue(d, "server", "localhost",
              "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
        issue(d, "client", "alice", "extendedKeyUsage=clientAuth\n")
        issue(d, "stranger", "mallory", "extendedKeyUsage=clientAuth\n", ca="other")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CONF)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        issue(d, "expired", "old-client", "extendedKeyUsage=clientAuth\n",
              dates=("20200101000000Z", "20200201000000Z"))
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        os.chmod(d, 0o755)
        yield d


def server_tls(pki, extra=""):
    return "cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n{x}".format(
        d=pki, x=extra)


@pytest.fixture
def tls_broker(configured_broker, workdir, pki):
    os.chmod(workdir, 0o755)

    def start(extra=""):
        return configured_broker(server_tls(pki, extra))
    return start


def cli_tls(pki, who=None, version=None):
    args = ["--cafile", os.path.join(pki, "ca.pem")]
    if who:
        args += ["--cert", os.path.join(pki, who + ".pem"), "--key", os.path.join(pki, who + ".key")]
    if version:
        args += ["--tls-version", version]
    return args


def mosquitto_pub(port, tls, topic="tls/t", message="hello", qos=1):
    return subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m",
                           message, "-q", str(qos)] + tls,
                          capture_output=True, text=True, timeout=20)


def cli_round_trip(port, tls):
    """mosquitto_sub gets what mosquitto_pub sends, both over TLS."""
    sub = subprocess.Popen([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "-t", "tls/rt",
                            "-q", "1", "-C", "1", "-W", "15"] + tls,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(50):
            if sub.poll() is not None:
                break
            r = mosquitto_pub(port, tls, topic="tls/rt", message="over tls")
            assert r.returncode == 0, r.stderr
            try:
                sub.wait(0.3)
            except subprocess.TimeoutExpired:
                pass
        out, err = sub.communicate(timeout=20)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    assert sub.returncode == 0, err
    assert out.strip() == "over tls"


def paho_tls(port, pki, version, who=None, tls_version=None):
    c = Paho(port, version=version, connect=False)
    c.c.tls_set(ca_certs=os.path.join(pki, "ca.pem"),
                     certfile=os.path.join(pki, who + ".pem") if who else None,
                     keyfile=os.path.join(pki, who + ".key") if who else None,
                     tls_version=tls_version or ssl.PROTOCOL_TLS_CLIENT)
    return c


def paho_round_trip(port, pki, version, who=None):
    sub = paho_tls(port, pki, version, who).connect()
    pub = paho_tls(port, pki, version, who).connect()
    try:
        sub.subscribe("tls/paho", qos=1)
        pub.publish("tls/paho", b"paho over tls", qos=1)
        msg = sub.get(10)
        assert msg.topic == "tls/paho" and msg.payload == b"paho over tls"
    finally:
        pub.disconnect()
        sub.disconnect()


def test_server_only_tls_cli_round_trip(tls_broker, pki):
    b = tls_broker()
    cli_round_trip(b.port, cli_tls(pki))


@pytest.mark.parametrize("version", [V311, V5], ids=["v311", "v5"])
def test_server_only_tls_paho_round_trip(tls_broker, pki, version):
    b = tls_broker()
    paho_round_trip(b.port, pki, version)


TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def handshake(port, pki, version):
    """A TLS handshake pinned to one protocol version: the version
    negotiated, or None if the server refused it. (mosquitto_pub's
    --tls-version only sets a minimum, so it cannot pin 1.2.)"""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
    ctx.minimum_version = ctx.maximum_version = TLS_VERSIONS[version]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(CONNECT_311)
                ack = s.recv(4)
                assert ack[:1] == b"\x20", ack
                return s.version()
        except ssl.SSLError:
            return None


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_default_listener_takes_tls12_and_tls13(tls_broker, pki, version):
    b = tls_broker()
    assert handshake(b.port, pki, version) == "TLSv" + version


def test_tlsv13_listener_refuses_tls12(tls_broker, pki):
    b = tls_broker("tls_version tlsv1.3\n")
    assert handshake(b.port, pki, "1.2") is None
    assert handshake(b.port, pki, "1.3") == "TLSv1.3"


def test_untrusting_client_refuses_the_server(tls_broker, pki):
    b = tls_broker()
    r = mosquitto_pub(b.port, ["--cafile", os.path.join(pki, "other.pem")])
    assert r.returncode != 0


def test_mutual_tls_cli_and_paho(tls_broker, pki):
    b = tls_broker("require_certificate true\n")
    cli_round_trip(b.port, cli_tls(pki, who="client"))
    paho_round_trip(b.port, pki, V311, who="client")
    paho_round_trip(b.port, pki, V5, who="client")


@pytest.mark.parametrize("who", [None, "expired", "stranger"],
                         ids=["no-certificate", "expired", "other-ca"])
def test_mutual_tls_refuses_bad_client_certificates(tls_broker, pki, who):
    b = tls_broker("require_certificate true\n")
    r = mosquitto_pub(b.port, cli_tls(pki, who=who))
    assert r.returncode != 0, r.stdout + r.stderr
    # The broker goes on serving good clients afterwards.
    r = mosquitto_pub(b.port, cli_tls(pki, who="client"))
    assert r.returncode == 0, r.stderr


def test_optional_client_certificate(tls_broker, pki):
    """Without require_certificate a client may come with or without one."""
    b = tls_broker()
    assert mosquitto_pub(b.port, cli_tls(pki)).returncode == 0
    r = mosquitto_pub(b.port, cli_tls(pki, who="client"))
    assert r.returncode == 0, r.stderr


def test_plaintext_to_tls_port_is_refused_others_unaffected(tls_broker, pki):
    b = tls_broker()
    # A TLS client connected before the plaintext one stays served.
    sub = paho_tls(b.port, pki, V311).connect()
    sub.subscribe("tls/still", qos=1)
    try:
        with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
            s.sendall(CONNECT_311)
            data = b""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
            # Never a CONNACK: at most a TLS alert, then the connection closes.
            assert not data.startswith(b"\x20"), data
        r = mosquitto_pub(b.port, cli_tls(pki), topic="tls/still", message="served")
        assert r.returncode == 0, r.stderr
        msg = sub.get(10)
        assert msg.payload == b"served"
    finally:
        sub.disconnect()


def test_plaintext_to_tls_port_logged_once_midge(workdir, pki):
    """midge names the refused connection in one log line, not one per
    failed read."""
    from conftest import start_midge
    conf = "listener {port} 127.0.0.1\nallow_anonymous true\n" + server_tls(pki).replace(
        "{", "{{").replace("}", "}}")
    b = start_midge(workdir, config=conf)
    try:
        with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
            s.sendall(CONNECT_311 * 4)
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
        assert mosquitto_pub(b.port, cli_tls(pki)).returncode == 0
        time.sleep(0.3)
        lines = [ln for ln in b.log_text().splitlines() if "TLS" in ln or "tls" in ln]
        assert len(lines) == 1, "\n".join(lines)
    finally:
        b.check_clean(b.stop())
