"""Four listener directives that shape TLS and the HTTP side of WebSocket
listeners: ciphers_tls1.3 (the TLS 1.3 suites offered), dhparamfile (DH
parameters for the DHE suites of TLS 1.2), http_dir (static files served to
plain HTTP GETs on a websockets listener) and websockets_headers_size (the
largest upgrade request). TLS clients are `openssl s_client`, which can pin a
single TLS 1.3 suite or a DHE-only TLS 1.2 cipher (Python's ssl module can
do neither). Each test runs against midge and Mosquitto where both behave
alike; midge-only tests say why in their docstring."""
import base64
import http.client
import os
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import free_port, midge_binary, start_configured, wait_for_port
from ws_util import FrameReader, frame, read_http_response, upgrade_request, ws_open

SUITE_A = "TLS_AES_256_GCM_SHA384"
SUITE_B = "TLS_CHACHA20_POLY1305_SHA256"
DHE = "DHE-RSA-AES128-GCM-SHA256"


# ---------------------------------------------------------------- TLS

@pytest.fixture(scope="module")
def tls_files():
    """A self-signed server certificate and RFC 7919 ffdhe2048 parameters
    (a named group: nothing to generate), world-readable because Mosquitto
    reads them after giving up root."""
    with tempfile.TemporaryDirectory(prefix="midge-tlshttp-") as d:
        def run(*args):
            subprocess.run(["openssl"] + list(args), cwd=d, check=True, timeout=60,
                           capture_output=True)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout",
            "server.key", "-out", "server.pem", "-subj", "/CN=localhost")
        run("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out",
            "dh.pem")
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        os.chmod(d, 0o755)
        yield d


def tls_lines(d, extra=""):
    return "certfile {d}/server.pem\nkeyfile {d}/server.key\n{x}".format(d=d, x=extra)


@pytest.fixture
def tls_broker(configured_broker, workdir, tls_files):
    os.chmod(workdir, 0o755)

    def start(extra=""):
        return configured_broker(tls_lines(tls_files, extra))
    return start


@pytest.fixture
def midge_tls_broker(workdir, tls_files):
    """tls_broker for midge-only tests."""
    os.chmod(workdir, 0o755)
    started = []

    def start(extra=""):
        started.append(start_configured("midge", workdir, tls_lines(tls_files, extra)))
        return started[-1]
    yield start
    for b in started:
        b.check_clean(b.stop())


def s_client(port, *args):
    """One TLS handshake with openssl s_client; returns the negotiated
    cipher name, or None when the handshake failed."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    for line in r.stdout.splitlines():
        if ", Cipher is " in line:
            name = line.split(", Cipher is ", 1)[1].strip()
            return None if r.returncode != 0 or name == "(NONE)" else name
    return None


def tls13(port, suite):
    return s_client(port, "-tls1_3", "-ciphersuites", suite)


def dhe12(port):
    return s_client(port, "-tls1_2", "-cipher", DHE)


def test_ciphers_tls13_limits_the_suites(tls_broker):
    b = tls_broker("ciphers_tls1.3 %s\n" % SUITE_A)
    assert tls13(b.port, SUITE_A) == SUITE_A
    assert tls13(b.port, SUITE_B) is None
    # The listener still serves TLS 1.2 with its usual ciphers.
    assert s_client(b.port, "-tls1_2") is not None


def test_ciphers_tls13_list_of_two(tls_broker):
    b = tls_broker("ciphers_tls1.3 %s:%s\n" % (SUITE_B, SUITE_A))
    assert tls13(b.port, SUITE_A) == SUITE_A
    assert tls13(b.port, SUITE_B) == SUITE_B
    assert tls13(b.port, "TLS_AES_128_GCM_SHA256") is None


def test_default_tls13_suites(tls_broker):
    b = tls_broker()
    assert tls13(b.port, SUITE_A) == SUITE_A
    assert tls13(b.port, "TLS_AES_128_GCM_SHA256") == "TLS_AES_128_GCM_SHA256"


def test_dhparamfile_enables_dhe(tls_broker, tls_files):
    b = tls_broker("dhparamfile %s/dh.pem\n" % tls_files)
    assert dhe12(b.port) == DHE


def test_no_dhparamfile_no_dhe_midge(midge_tls_broker):
    """midge offers DHE only with dhparamfile, as mosquitto.conf(5) says
    ("the listener must load DH parameters"); Debian's Mosquitto 2.0.11
    with OpenSSL 3 offers DHE with built-in parameters without one. ECDHE
    and TLS 1.3 are unaffected."""
    b = midge_tls_broker()
    assert dhe12(b.port) is None
    assert s_client(b.port, "-tls1_2") is not None


def run_midge_config(workdir, text):
    """Runs midge with a configuration that must make it exit; returns
    (exit code, output)."""
    path = os.path.join(workdir, "bad.conf")
    port = free_port()
    with open(path, "w") as f:
        f.write("listener %d 127.0.0.1\n" % port + text + "\nuser root\n")
    r = subprocess.run([midge_binary(), "-c", path], capture_output=True, text=True, timeout=20)
    return r.returncode, (r.stdout + r.stderr).replace("listener %d " % port, "listener P ")


@pytest.mark.parametrize("value,reason", [
    ("TLS_NO_SUCH_SUITE", "ciphers_tls1.3"),
    ("%s:TLS_NO_SUCH_SUITE" % SUITE_A, "unknown TLS 1.3 cipher suite 'TLS_NO_SUCH_SUITE'"),
])
def test_bad_ciphers_tls13_refused_midge(workdir, tls_files, value, reason):
    """Mosquitto 2.0.11 refuses a list with no known suite but silently
    drops unknown names next to known ones (OpenSSL 3 skips them); midge
    refuses both, since a typo would quietly change what is offered."""
    rc, out = run_midge_config(workdir, tls_lines(tls_files, "ciphers_tls1.3 %s\n" % value))
    assert rc != 0
    assert reason in out
    assert "bad.conf:1: the TLS settings of listener P cannot be used" in out


@pytest.mark.parametrize("which", ["missing", "not_dh"])
def test_bad_dhparamfile_refused_midge(workdir, tls_files, which):
    """Mosquitto refuses these too, but keeps running its other listeners'
    setup before it exits; midge names the file and the listener."""
    path = os.path.join(tls_files, "nothing.pem" if which == "missing" else "server.pem")
    rc, out = run_midge_config(workdir, tls_lines(tls_files, "dhparamfile %s\n" % path))
    assert rc != 0
    assert "dhparamfile %s" % path in out
    assert "bad.conf:1: the TLS settings of listener P cannot be used" in out


def test_tls_directives_without_certfile_refused_midge(workdir, tls_files):
    """As for ciphers: a TLS option on a listener without certfile and
    keyfile is a mistake midge reports instead of ignoring (Mosquitto
    ignores it)."""
    rc, out = run_midge_config(workdir, "dhparamfile %s/dh.pem\n" %
                               tls_files)
    assert rc != 0
    assert "TLS options given without certfile and keyfile" in out


# ---------------------------------------------------------------- http_dir

# A minimal MQTT 3.1.1 CONNECT (client id "abcd", clean session, keep-alive 60).
CONNECT_311 = bytes([0x10, 0x10, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C, 0x00,
                                                                  0x04]) + b"abcd"
WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "web")

FILES = {
    "index.html": b"<!doctype html><p>midge</p>\n",
    "app.js": b"console.log('hi');\n",
    "style.css": b"p { color: red }\n",
    "img.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    "logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>\n",
    "data.json": b"{\"a\": 1}\n",
    "notes.txt": b"plain text\n",
    "favicon.ico": b"\x00\x00\x01\x00",
    "blob.bin": b"\x00\x01\x02",
    "empty.txt": b"",
    "sub/index.html": b"<p>sub</p>\n",
    "sub/deeper/x.json": b"[]\n",
}
TYPES = {
    "html": "text/html", "js": "text/javascript", "css": "text/css", "png": "image/png",
    "svg": "image/svg+xml", "json": "application/json", "txt": "text/plain",
    "ico": "image/x-icon", "bin": "application/octet-stream",
}
SECRET = b"outside the served directory"


def make_site(workdir):
    """The served tree, a file outside it and links pointing out of it."""
    www = os.path.join(workdir, "www")
    for rel, data in FILES.items():
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    os.makedirs(os.path.join(www, "empty"))
    with open(os.path.join(www, "big.bin"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 17))
    with open(os.path.join(workdir, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink(os.path.join(workdir, "secret.txt"), os.path.join(www, "link.txt"))
    os.symlink(workdir, os.path.join(www, "up"))
    for d, dirs, files in os.walk(workdir):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return www


class Site:
    def __init__(self, broker, ws_port, www):
        self.broker = broker
        self.port = ws_port
        self.www = www


def start_site(start, workdir, extra=""):
    """A broker (from a configured_broker-like factory) with its MQTT
    listener and a websockets listener serving make_site's tree."""
    os.chmod(workdir, 0o755)
    www = make_site(workdir)
    ws_port = free_port()
    b = start("listener %d 127.0.0.1\nprotocol websockets\nhttp_dir %s\n%s" %
              (ws_port, www, extra))
    wait_for_port(ws_port)
    return Site(b, ws_port, www)


@pytest.fixture
def site(configured_broker, workdir):
    return start_site(configured_broker, workdir)


@pytest.fixture
def midge_site(workdir):
    started = []

    def start(config):
        started.append(start_configured("midge", workdir, config))
        return started[-1]
    yield start_site(start, workdir)
    for b in started:
        b.check_clean(b.stop())


def fetch(port, path, method="GET", headers=None):
    """One request with http.client (the path is sent as given, without
    normalisation); returns (status, headers as a lower-cased dict, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def raw_http(port, data, timeout=10):
    """Sends raw bytes; returns everything the server sent until it closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def test_http_dir_serves_files(site):
    for rel, data in FILES.items():
        status, headers, body = fetch(site.port, "/" + rel)
        assert status == 200, rel
        assert body == data, rel
        assert int(headers["content-length"]) == len(data), rel


def test_http_dir_big_file(site):
    with open(os.path.join(site.www, "big.bin"), "rb") as f:
        want = f.read()
    status, headers, body = fetch(site.port, "/big.bin")
    assert status == 200
    assert int(headers["content-length"]) == len(want)
    assert body == want


def test_http_dir_index_and_query(site):
    assert fetch(site.port, "/")[2] == FILES["index.html"]
    assert fetch(site.port, "/sub/")[2] == FILES["sub/index.html"]
    assert fetch(site.port, "/app.js?v=3")[2] == FILES["app.js"]
    assert fetch(site.port, "/no%74es.txt")[2] == FILES["notes.txt"]


def test_http_dir_directory_without_slash_redirected(site):
    """As Mosquitto (libwebsockets): /sub answers 302 to /sub/, so the
    page's relative links resolve inside the directory."""
    status, headers, _ = fetch(site.port, "/sub")
    assert status == 302
    assert headers["location"].endswith("/sub/")
    status, headers, _ = fetch(site.port, "/sub/deeper?x=1")
    assert status == 302
    # midge keeps the query; Mosquitto 2.0.11 drops it.
    assert headers["location"].split("?")[0].endswith("/sub/deeper/")


def test_http_dir_head(site):
    status, headers, body = fetch(site.port, "/data.json", method="HEAD")
    assert status == 200
    assert int(headers["content-length"]) == len(FILES["data.json"])
    assert body == b""


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/sub/../../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/..%2fsecret.txt",
    "/link.txt", "/up/secret.txt", "/" + "../" * 12 + "etc/passwd",
    "/etc/passwd", "//etc/passwd",
])
def test_http_dir_traversal_refused(site, path):
    status, _, body = fetch(site.port, path)
    assert status in (400, 403, 404), (path, status)
    assert SECRET not in body and b"root:" not in body


ODD_TARGETS = (b"http://127.0.0.1/../secret.txt", b"/secret.txt%00.html", b"/%00/../secret.txt")


def test_http_dir_absolute_form_and_nul_never_leave(site):
    for target in ODD_TARGETS:
        out = raw_http(site.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert SECRET not in out, target


def test_http_dir_absolute_form_and_nul_refused_midge(midge_site):
    """Mosquitto 2.0.11 answers some of these with its index page (it cuts
    the path at the NUL); midge refuses them with 400."""
    for target in ODD_TARGETS:
        out = raw_http(midge_site.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 "), target


def test_http_dir_missing_and_directory_without_index(site):
    assert fetch(site.port, "/nothing.html")[0] == 404
    status, _, body = fetch(site.port, "/empty/")
    assert status in (403, 404)
    assert b"index" not in body.lower() or status == 404


def test_http_dir_post_405(site):
    assert fetch(site.port, "/index.html", method="POST")[0] == 405


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
def test_http_dir_other_methods_405_midge(midge_site, method):
    """Mosquitto 2.0.11 answers PUT and DELETE like GET; midge serves GET
    and HEAD only."""
    assert fetch(midge_site.port, "/index.html", method=method)[0] == 405


def test_http_dir_content_types_midge(midge_site):
    """Debian's Mosquitto 2.0.11 (libwebsockets) sends no Content-Type at
    all; midge sends one by extension, and nosniff so browsers keep it."""
    for rel in FILES:
        status, headers, _ = fetch(midge_site.port, "/" + rel)
        ext = rel.rsplit(".", 1)[1]
        assert headers["content-type"].split(";")[0] == TYPES[ext], rel
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["connection"] == "close"


def test_http_dir_errors_midge(midge_site):
    """midge's answers: 403 for a directory without index.html (Mosquitto
    404), 403 for a '..' segment and a symbolic link, 400 for a bad escape
    or a target that is not a path, Allow on 405, each with a short body
    and the connection closed."""
    p = midge_site.port
    assert fetch(p, "/empty/")[0] == 403
    assert fetch(p, "/%2e%2e/secret.txt")[0] == 403
    assert fetch(p, "/link.txt")[0] == 403
    # A link is not followed even when it leads back inside the directory.
    assert fetch(p, "/up/www/index.html")[0] in (403, 404)
    assert fetch(p, "/a%zz")[0] == 400
    assert fetch(p, "/a%00")[0] == 400
    status, headers, body = fetch(p, "/", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert body == b"Method Not Allowed\n"
    out = raw_http(p, b"GET * HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")


def test_http_dir_websocket_and_mqtt_unaffected(site):
    """The same listener still upgrades to MQTT over WebSockets, and the
    plain MQTT listener serves MQTT, while HTTP is being served."""
    s, rest = ws_open(site.port)
    try:
        s.sendall(frame(0x2, CONNECT_311))
        fin, op, payload = FrameReader(s, rest).frame()
        assert op == 0x2 and payload[:2] == b"\x20\x02" and payload[3] == 0
    finally:
        s.close()
    assert fetch(site.port, "/notes.txt")[2] == FILES["notes.txt"]
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(site.broker.port), "-t",
                        "t", "-m", "x", "-q", "1"], capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr


def test_http_dir_slow_clients_do_not_starve_others_midge(midge_site):
    """Clients that trickle half a request, or ask for a big file and never
    read it, hold only their own connection: a normal download and an MQTT
    client are served meanwhile. (Mosquitto's libwebsockets is not tested
    here: its limits are its own.)"""
    p = midge_site.port
    idle = []
    try:
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", p), timeout=5)
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")  # never finished
            idle.append(s)
        for i in range(5):
            s = socket.create_connection(("127.0.0.1", p), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")  # never read
            idle.append(s)
        t0 = time.monotonic()
        assert fetch(p, "/data.json")[2] == FILES["data.json"]
        with open(os.path.join(midge_site.www, "big.bin"), "rb") as f:
            assert fetch(p, "/big.bin")[2] == f.read()
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p",
                            str(midge_site.broker.port), "-t", "t", "-m", "x", "-q", "1"],
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < 8
    finally:
        for s in idle:
            s.close()


def test_no_http_dir_refuses_plain_get(configured_broker, workdir):
    """Without http_dir a websockets listener serves no files."""
    ws_port = free_port()
    configured_broker("listener %d 127.0.0.1\nprotocol websockets\n" % ws_port)
    wait_for_port(ws_port)
    out = raw_http(ws_port, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 200 " not in out.split(b"\r\n")[0]


def test_http_dir_on_mqtt_listener_is_a_warning_midge(workdir):
    """Mosquitto ignores http_dir on an MQTT listener silently; midge says
    so and starts."""
    os.makedirs(os.path.join(workdir, "www"))
    b = start_configured("midge", workdir, "http_dir %s\n" % os.path.join(workdir, "www"))
    try:
        assert "http_dir only applies to websockets listeners" in b.log_text()
    finally:
        b.check_clean(b.stop())


def test_http_dir_missing_directory_refused_midge(workdir):
    """A directory that does not exist stops the start instead of 404 for
    every request."""
    rc, out = run_midge_config(workdir, "protocol websockets\nhttp_dir %s/nowhere\n" % workdir)
    assert rc != 0
    assert "nowhere" in out and "not a directory" in out


def test_liveview_page_served_by_midge(workdir):
    """The live view page (examples/web) straight from midge, with the
    configuration README suggests: its page and script load over HTTP from
    the same listener the page then talks MQTT to."""
    os.chmod(workdir, 0o755)
    ws_port = free_port()
    b = start_configured("midge", workdir, "listener %d 127.0.0.1\nprotocol websockets\n"
                         "http_dir %s\n" % (ws_port, os.path.abspath(WEB_DIR)))
    try:
        wait_for_port(ws_port)
        status, headers, page = fetch(ws_port, "/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        with open(os.path.join(WEB_DIR, "index.html"), "rb") as f:
            assert page == f.read()
        assert b"liveview.js" in page
        status, headers, script = fetch(ws_port, "/liveview.js")
        assert status == 200 and headers["content-type"].startswith("text/javascript")
        with open(os.path.join(WEB_DIR, "liveview.js"), "rb") as f:
            assert script == f.read()
        ws_open(ws_port)[0].close()
    finally:
        b.check_clean(b.stop())


# ---------------------------------------------------------------- websockets_headers_size

def upgrade_status(port, extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(upgrade_request(base64.b64encode(os.urandom(16)), extra=extra))
        try:
            head, _ = read_http_response(s, limit=1 << 20)
        except (ConnectionResetError, socket.timeout):
            head = ""
        return head.split("\r\n")[0]
    finally:
        s.close()


def test_websockets_headers_size(configured_broker):
    ws_port = free_port()
    configured_broker("websockets_headers_size 1024\nlistener %d 127.0.0.1\nprotocol websockets\n"
                      % ws_port)
    wait_for_port(ws_port)
    assert upgrade_status(ws_port).startswith("HTTP/1.1 101")
    assert upgrade_status(ws_port, b"Cookie: " + b"a" * 300 + b"\r\n").startswith("HTTP/1.1 101")
    assert not upgrade_status(ws_port, b"Cookie: " + b"a" * 2000 + b"\r\n").startswith(
        "HTTP/1.1 101")
    # The listener still works after refusing.
    assert upgrade_status(ws_port).startswith("HTTP/1.1 101")


def test_websockets_headers_size_default_and_431_midge(workdir):
    """midge's default is the whole request within 8192 bytes (Debian's
    Mosquitto 2.0.11 leaves libwebsockets' 4096 bytes of header data);
    a longer request gets 431 and is closed."""
    ws_port = free_port()
    b = start_configured("midge", workdir, "listener %d 127.0.0.1\nprotocol websockets\n" % ws_port)
    try:
        wait_for_port(ws_port)
        assert upgrade_status(ws_port, b"Cookie: " + b"a" * 6000 + b"\r\n").startswith(
            "HTTP/1.1 101")
        assert upgrade_status(ws_port, b"Cookie: " + b"a" * 9000 + b"\r\n").startswith(
            "HTTP/1.1 431")
    finally:
        b.check_clean(b.stop())
    b = start_configured("midge", workdir, "websockets_headers_size 20000\nlistener %d 127.0.0.1\n"
                         "protocol websockets\n" % ws_port)
    try:
        wait_for_port(ws_port)
        assert upgrade_status(ws_port, b"Cookie: " + b"a" * 15000 + b"\r\n").startswith(
            "HTTP/1.1 101")
        assert upgrade_status(ws_port, b"Cookie: " + b"a" * 21000 + b"\r\n").startswith(
            "HTTP/1.1 431")
    finally:
        b.check_clean(b.stop())


def test_http_dir_over_tls_midge(workdir, tls_files):
    """A websockets listener with TLS serves http_dir over HTTPS, from the
    same TLS path as wss:// (Debian's Mosquitto 2.0.11 cannot open a
    websockets listener with certfile/keyfile)."""
    os.chmod(workdir, 0o755)
    www = make_site(workdir)
    port = free_port()
    b = start_configured("midge", workdir, "listener %d 127.0.0.1\nprotocol websockets\n"
                         "http_dir %s\n%s" % (port, www, tls_lines(tls_files)))
    try:
        wait_for_port(port)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=ctx)
        try:
            c.request("GET", "/big.bin")
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        with open(os.path.join(www, "big.bin"), "rb") as f:
            assert r.status == 200 and body == f.read()
    finally:
        b.check_clean(b.stop())
