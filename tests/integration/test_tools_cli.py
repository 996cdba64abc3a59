"""Command-line behaviour of the tools: help, bad flags, refusals, limits,
and that no argument combination crashes them."""
import os
import random
import signal
import subprocess

import pytest

from conftest import ROOT, free_port, start_mosquitto
from tools_util import addr, needs_tools, run, tool

pytestmark = needs_tools

TOOLS = ["midge_pub", "midge_sub", "midge_rr"]


@pytest.mark.parametrize("name", TOOLS)
def test_help_and_man_page(name):
    r = run([name, "--help"])
    assert r.returncode == 0 and b"Usage: " + name.encode() in r.stdout
    for flag in (b"-h", b"-p", b"-t", b"-q", b"-V", b"-D", b"-L", b"--cafile", b"--will-topic"):
        assert flag in r.stdout
    man = os.path.join(ROOT, "man", name + ".1")
    assert os.path.exists(man)
    out = subprocess.run(["man", "-l", "-P", "cat", man], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=20, env=dict(os.environ, MANWIDTH="80"))
    if out.returncode == 0:
        assert name.upper().encode() in out.stdout


@pytest.mark.parametrize("name", TOOLS)
def test_unknown_option(name):
    r = run([name, "--bogus"])
    assert r.returncode == 1
    assert r.stderr == ("Error: Unknown option '--bogus'.\nUse '%s --help' to see usage.\n"
                        % name).encode()


@pytest.mark.parametrize("argv,message", [
    (["midge_pub", "-t", "a"], b"Error: Both topic and message must be supplied."),
    (["midge_pub", "-t", "a", "-m", "x", "-n"],
     b"Error: Only one type of message can be sent at once."),
    (["midge_pub", "-t", "a/#", "-m", "x"], b"Error: Invalid publish topic 'a/#'"),
    (["midge_pub", "-t", "a", "-m", "x", "-q", "3"], b"Error: Invalid QoS given: 3"),
    (["midge_pub", "-t", "a", "-m", "x", "-V", "4"], b"Invalid protocol version"),
    (["midge_pub", "-t", "a", "-m", "x", "-c"], b"You must provide a client id"),
    (["midge_pub", "-t", "a", "-m", "x", "-i", "a", "-I", "b"],
     b"-i and -I argument cannot be used together"),
    (["midge_pub", "-t", "a", "-m", "x", "--will-payload", "p"],
     b"Will payload given, but no will topic given"),
    (["midge_pub", "-t", "a", "-m", "x", "-W", "1"], b"Unknown option '-W'"),
    (["midge_pub", "-t", "a", "-m", "x", "-V", "311", "-D", "PUBLISH", "content-type", "x"],
     b"needs MQTT v5"),
    (["midge_pub", "-t", "a", "-m", "x", "-D", "PUBLISH", "receive-maximum", "3"],
     b"receive-maximum property not allowed for PUBLISH"),
    (["midge_pub", "-L", "http://h/t", "-m", "x"], b"Unsupported URL scheme"),
    (["midge_sub"], b"You must specify a topic"),
    (["midge_sub", "-t", "a", "-R", "--retained-only"], b"makes no sense"),
    (["midge_sub", "-t", "a", "-F", "%z"], b"Invalid format specifier 'z'"),
    (["midge_sub", "-t", "a", "--json", "-F", "%t"], b"cannot be used together"),
    (["midge_sub", "-t", "a", "-C", "0"], b"Invalid message count"),
    (["midge_rr", "-t", "a", "-m", "x"], b"All of topic, message, and response topic"),
])
def test_bad_arguments(argv, message):
    r = run(argv)
    assert r.returncode == 1, r
    assert message in r.stderr, r.stderr
    assert r.stdout == b""


def test_missing_file():
    r = run(["midge_pub", "-t", "a", "-f", "/nonexistent/file"])
    assert r.returncode == 1
    assert b'Unable to open file "/nonexistent/file"' in r.stderr


def test_connection_refused_by_network():
    port = free_port()
    for name, extra in (("midge_pub", ["-m", "x"]), ("midge_sub", []),
                        ("midge_rr", ["-e", "r", "-m", "x"])):
        r = run([name, "-h", "127.0.0.1", "-p", str(port), "-t", "a"] + extra)
        assert r.returncode == 1, (name, r)
        assert b"Connection refused" in r.stderr
        r = run([name, "-h", "127.0.0.1", "-p", str(port), "-t", "a", "--quiet"] + extra)
        assert r.returncode == 1 and r.stderr == b""


@pytest.fixture
def refusing(workdir):
    pw = os.path.join(workdir, "pw")
    subprocess.run(["mosquitto_passwd", "-c", "-b", pw, "alice", "secret"], check=True,
                   timeout=20, stdout=subprocess.DEVNULL)
    # Mosquitto reads the file after dropping root for its own user.
    os.chmod(workdir, 0o755)
    os.chmod(pw, 0o644)
    b = start_mosquitto(workdir, "allow_anonymous false\npassword_file %s\n" % pw)
    yield b
    b.stop()


def test_connack_refusal_words_and_codes_match_mosquitto(refusing):
    """The same words and exit codes as Mosquitto's own tools."""
    cases = [("pub", ["-m", "x"]), ("sub", []), ("rr", ["-e", "r", "-m", "x"])]
    for version in ("311", "5", "31"):
        for kind, extra in cases:
            if kind == "rr" and version != "5":
                continue
            argv = addr(refusing) + ["-V", version, "-t", "a", "-u", "alice", "-P", "wrong"] + extra
            ours = run(["midge_" + kind] + argv)
            theirs = subprocess.run(["mosquitto_" + kind] + argv, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, timeout=20)
            assert ours.returncode == theirs.returncode, (kind, version, ours, theirs)
            first = theirs.stderr.splitlines()[0]
            assert ours.stderr.splitlines()[0] == first, (kind, version, ours.stderr)
    ok = run(["midge_pub"] + addr(refusing) + ["-t", "a", "-m", "x", "-u", "alice", "-P",
                                               "secret"])
    assert ok.returncode == 0, ok.stderr


def test_payload_larger_than_broker_maximum(workdir):
    b = start_mosquitto(workdir, "max_packet_size 1000\n")
    try:
        path = os.path.join(workdir, "big")
        with open(path, "wb") as f:
            f.write(b"x" * 5000)
        r = run(["midge_pub"] + addr(b) + ["-V", "5", "-t", "a", "-f", path])
        assert r.returncode == 1
        assert b"maximum packet size of 1000 bytes" in r.stderr, r.stderr
        # MQTT 3.1.1 announces no limit: the broker drops the connection,
        # and the tools exit like mosquitto_pub (7, connection lost)
        with open(path, "wb") as f:
            f.write(b"x" * 100000)
        r = run(["midge_pub"] + addr(b) + ["-t", "a", "-q", "1", "-f", path])
        theirs = subprocess.run(["mosquitto_pub"] + addr(b) + ["-t", "a", "-q", "1", "-f", path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        assert r.returncode == theirs.returncode == 7, (r, theirs)
        assert b"The connection was lost" in r.stderr
        assert b"message of 100000 bytes" in r.stderr
    finally:
        b.stop()


FLAGS = ["-h", "-p", "-t", "-m", "-f", "-l", "-n", "-s", "-q", "-r", "-i", "-I", "-k", "-u",
         "-P", "-V", "-d", "-c", "-C", "-W", "-R", "-v", "-N", "-F", "-T", "-U", "-x", "-D", "-L",
         "-e", "-E", "--will-topic", "--will-payload", "--will-qos", "--will-retain", "--cafile",
         "--capath", "--cert", "--key", "--insecure", "--tls-version", "--repeat",
         "--repeat-delay", "--quiet", "--pretty", "--json", "--retained-only",
         "--remove-retained", "--unknown", "-A", "--psk", "--proxy", "--unix"]
VALUES = ["", "0", "1", "2", "3", "-1", "5", "65536", "a/b", "a/#", "+", "#", "%t%p%", "%j",
          "\\", "@", "mqtt://127.0.0.1:{port}/t", "mqtt://x@:/", "PUBLISH", "user-property",
          "CONNECT", "receive-maximum", "mqttv5", "311", "\xff", "/nonexistent", "x" * 300]


def test_random_argument_combinations_never_crash():
    """Every combination ends with an exit code, never a signal, and within
    its time bound (nothing listens on the port)."""
    port = free_port()
    rng = random.Random(4)
    for _ in range(150):
        name = rng.choice(TOOLS)
        argv = ["-h", "127.0.0.1", "-p", str(port)]
        for _ in range(rng.randint(0, 7)):
            argv.append(rng.choice(FLAGS))
            for _ in range(rng.randint(0, 3)):
                argv.append(rng.choice(VALUES).format(port=port))
        r = run([name] + argv + ["-W", "1"] if name == "midge_sub" else [name] + argv,
                input=b"line\n", timeout=20)
        assert r.returncode >= 0, (name, argv, r.returncode, r.stderr)
        assert r.returncode != -signal.SIGSEGV
        assert b"AddressSanitizer" not in r.stderr and b"runtime error" not in r.stderr, \
            (name, argv, r.stderr)


def test_defaults_file(workdir):
    """Options in $XDG_CONFIG_HOME/midge_sub are defaults; the command line
    overrides them."""
    b = start_mosquitto(workdir)
    try:
        conf = os.path.join(workdir, "conf")
        os.mkdir(conf)
        with open(os.path.join(conf, "midge_sub"), "w") as f:
            f.write("# lab broker\n-h 127.0.0.1\n-p %d\n-v\n" % b.port)
        with open(os.path.join(conf, "midge_pub"), "w") as f:
            f.write("-h 127.0.0.1\n-p %d\n-t cfg/t\n-m from the file\n" % b.port)
        env = dict(os.environ, XDG_CONFIG_HOME=conf)
        assert run(["midge_pub", "-r"], env=env).returncode == 0
        r = run(["midge_sub", "-t", "cfg/t", "-C", "1"], env=env)
        assert r.returncode == 0 and r.stdout == b"cfg/t from the file\n", r
        r = run(["midge_sub", "-t", "cfg/t", "-C", "1", "-p", "1"], env=env)
        assert r.returncode == 1 and b"Connection refused" in r.stderr
        with open(os.path.join(conf, "midge_sub"), "a") as f:
            f.write("-q 9\n")
        r = run(["midge_sub", "-t", "x"], env=env)
        assert r.returncode == 1 and b"Invalid QoS given: 9 (in " in r.stderr
    finally:
        b.stop()
