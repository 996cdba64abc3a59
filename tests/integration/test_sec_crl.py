"""crlfile: a client certificate revoked by the CA's CRL is refused, a
good one from the same CA accepted; Mosquitto given the same files is the
reference. Every certificate is made by openssl for the run."""
import os
import subprocess
import tempfile

import pytest

from conftest import start_midge, start_mosquitto

MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"

CA_CONF = """[ca]
default_ca = ca_here
[ca_here]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 2
"""


def openssl(d, *args):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def issue(d, name, cn, ext):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n" + ext)
    openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + cn)
    openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")


@pytest.fixture(scope="module")
def pki():
    # World-readable: Mosquitto reads the files after giving up root.
    with tempfile.TemporaryDirectory(prefix="midge-crl-") as d:
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "2", "-subj", "/CN=midge CRL test CA")
        issue(d, "server", "localhost",
              "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
        issue(d, "good", "good-client", "extendedKeyUsage=clientAuth\n")
        issue(d, "revoked", "revoked-client", "extendedKeyUsage=clientAuth\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CONF)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("01\n")
        openssl(d, "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem",
                "-revoke", "revoked.pem")
        openssl(d, "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem",
                "-gencrl", "-out", "crl.pem")
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        os.chmod(d, 0o755)
        yield d


def tls_conf(d):
    return ("cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
            "require_certificate true\ncrlfile {d}/crl.pem\nallow_anonymous true\n").format(d=d)


@pytest.fixture(params=["midge", "mosquitto"])
def broker(request, workdir, pki):
    os.chmod(workdir, 0o755)
    if request.param == "mosquitto":
        b = start_mosquitto(workdir, tls_conf(pki))
    else:
        conf = "listener {port} 127.0.0.1\n" + tls_conf(pki).replace("{", "{{").replace("}", "}}")
        b = start_midge(workdir, config=conf)
    yield b
    rc = b.stop()
    if request.param == "midge":
        b.check_clean(rc)


def publish(broker, pki, who):
    return subprocess.run(
        [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(broker.port), "--cafile",
         os.path.join(pki, "ca.pem"), "--cert", os.path.join(pki, who + ".pem"), "--key",
         os.path.join(pki, who + ".key"), "-t", "crl/t", "-m", "hello", "-q", "1"],
        capture_output=True, text=True, timeout=20)


def test_good_certificate_accepted(broker, pki):
    r = publish(broker, pki, "good")
    assert r.returncode == 0, r.stderr


def test_revoked_certificate_refused(broker, pki):
    r = publish(broker, pki, "revoked")
    assert r.returncode != 0, r.stdout + r.stderr
    # The broker keeps serving the good one afterwards.
    r = publish(broker, pki, "good")
    assert r.returncode == 0, r.stderr
