"""The tools over TLS against Mosquitto, with a CA, server and client
certificates made by openssl for each test."""
import os
import subprocess
import tempfile

import pytest

from conftest import start_mosquitto
from tools_util import Sub, needs_tools, run

pytestmark = needs_tools


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """ca.pem; server.pem/server.key for localhost and 127.0.0.1;
    wrongname.pem for another name; client.pem/client.key; a second CA."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=midge test CA", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out",
            "other-ca.pem", "-days", "2", "-subj", "/CN=someone else", cwd=d)

    def leaf(name, cn, san, ext):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n" % ext)
            if san:
                f.write("subjectAltName=%s\n" % san)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + cn, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                name + ".ext", cwd=d)

    leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth")
    leaf("wrongname", "elsewhere.example", "DNS:elsewhere.example", "serverAuth")
    leaf("client", "tool-client", None, "clientAuth")
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    os.chmod(d, 0o755)  # Mosquitto reads them after dropping root


@pytest.fixture(scope="module")
def pki():
    # Not under pytest's tmp_path: its parents are private to root, and
    # Mosquitto reads the files as its own user.
    with tempfile.TemporaryDirectory(prefix="midge-pki-") as d:
        make_pki(d)
        yield d


def tls_broker(workdir, pki, cert="server", require_cert=False):
    os.chmod(workdir, 0o755)
    conf = ("cafile %s/ca.pem\ncertfile %s/%s.pem\nkeyfile %s/%s.key\n"
            % (pki, pki, cert, pki, cert))
    if require_cert:
        conf += "require_certificate true\n"
    return start_mosquitto(workdir, conf)


def test_tls_round_trip_with_cafile(workdir, pki):
    b = tls_broker(workdir, pki)
    try:
        a = ["-h", "127.0.0.1", "-p", str(b.port), "--cafile", pki + "/ca.pem"]
        s = Sub(["midge_sub"] + a + ["-t", "tls/t", "-C", "1", "-v"]).ready()
        r = run(["midge_pub"] + a + ["-t", "tls/t", "-m", "secret", "-q", "1"])
        assert r.returncode == 0, r.stderr
        assert s.wait() == 0 and s.lines == [b"tls/t secret\n"]
        # the host name form is checked too
        r = run(["midge_pub", "-h", "localhost", "-p", str(b.port), "--cafile", pki + "/ca.pem",
                 "-t", "x", "-m", "y", "--tls-version", "tlsv1.2"])
        assert r.returncode == 0, r.stderr
    finally:
        b.stop()


def test_tls_untrusted_ca_fails(workdir, pki):
    b = tls_broker(workdir, pki)
    try:
        r = run(["midge_pub", "-h", "127.0.0.1", "-p", str(b.port), "--cafile",
                 pki + "/other-ca.pem", "-t", "x", "-m", "y"])
        assert r.returncode != 0
        assert b"certificate" in r.stderr.lower() or b"tls" in r.stderr.lower(), r.stderr
    finally:
        b.stop()


def test_tls_hostname_mismatch_needs_insecure(workdir, pki):
    b = tls_broker(workdir, pki, cert="wrongname")
    try:
        a = ["-h", "127.0.0.1", "-p", str(b.port), "--cafile", pki + "/ca.pem", "-t", "x", "-m",
             "y"]
        r = run(["midge_pub"] + a)
        assert r.returncode != 0, r
        r = run(["midge_pub"] + a + ["--insecure"])
        assert r.returncode == 0, r.stderr
    finally:
        b.stop()


def test_tls_client_certificate(workdir, pki):
    b = tls_broker(workdir, pki, require_cert=True)
    try:
        a = ["-h", "127.0.0.1", "-p", str(b.port), "--cafile", pki + "/ca.pem", "-t", "x", "-m",
             "y"]
        r = run(["midge_pub"] + a)
        assert r.returncode != 0
        r = run(["midge_pub"] + a + ["--cert", pki + "/client.pem", "--key", pki + "/client.key"])
        assert r.returncode == 0, r.stderr
    finally:
        b.stop()


def test_mqtts_url(workdir, pki):
    b = tls_broker(workdir, pki)
    try:
        url = "mqtts://127.0.0.1:%d/url/tls" % b.port
        s = Sub(["midge_sub", "-L", url, "--cafile", pki + "/ca.pem", "-C", "1"]).ready()
        r = run(["midge_pub", "-L", url, "--cafile", pki + "/ca.pem", "-m", "over mqtts"])
        assert r.returncode == 0, r.stderr
        assert s.wait() == 0 and s.lines == [b"over mqtts\n"]
    finally:
        b.stop()


def test_tls_missing_cafile_is_an_error(workdir):
    r = run(["midge_pub", "-h", "127.0.0.1", "-p", "1", "--cafile", workdir + "/nope.pem", "-t",
             "x", "-m", "y"])
    assert r.returncode == 1
    assert b"Problem setting TLS options" in r.stderr and b"nope.pem" in r.stderr
