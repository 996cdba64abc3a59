"""Four listener directives that shape TLS and the HTTP side of WebSocket
listeners: ciphers_tls1.3 (the TLS 1.3 suites offered), dhparamfile (DH
parameters for the DHE suites of TLS 1.2), http_dir (static files served to
plain HTTP GETs on a websockets listener) and websockets_headers_size (the
largest upgrade request). TLS clients are `openssl s_client`, which can pin a
single TLS 1.3 suite or a DHE-only TLS 1.2 cipher (Python's ssl module can
do neither). Each test runs against midge and Mosquitto where both behave
alike; midge-only tests say why in their docstring."""
import os
import subprocess
import tempfile

import pytest

from conftest import free_port, midge_binary, start_configured

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
