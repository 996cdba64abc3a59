"""Password files between midge and Mosquitto, in both directions.

- Files written by Debian's mosquitto_passwd are read by midge's password
  module (through the passwd_check helper) with the right verdicts.
- Files written by midge_passwd are accepted by a real Mosquitto broker
  (password_file + allow_anonymous false): the right password connects,
  a wrong one and no password are refused.
- midge_passwd edits files mosquitto_passwd wrote, and the reverse.
"""
import os
import subprocess

import pytest

from conftest import midge_binary, start_mosquitto

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"


def run(argv, stdin=None, timeout=30):
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, text=True)


def midge_passwd(*args, stdin=None):
    return run([midge_binary("midge_passwd")] + list(args), stdin=stdin)


def mosquitto_passwd(*args):
    r = run([MOSQUITTO_PASSWD] + list(args))
    assert r.returncode == 0, r.stderr
    return r


def midge_check(path, user, password):
    """0: accepted, 1: wrong password, 2: file refused."""
    return run([midge_binary("passwd_check"), path, user, password]).returncode


def start_mosquitto_with_passwords(workdir, path):
    # Run as root, Mosquitto drops to user "mosquitto" before it reads the
    # password file: the test directory (0700) must let that user in.
    os.chmod(workdir, 0o755)
    return start_mosquitto(workdir, "password_file %s\nallow_anonymous false\n" % path)


def pub(broker, user=None, password=None):
    argv = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(broker.port), "-t", "t", "-m", "m",
            "-q", "1"]
    if user is not None:
        argv += ["-u", user]
    if password is not None:
        argv += ["-P", password]
    return run(argv, timeout=15).returncode


@pytest.mark.parametrize("hash_args", [[], ["-H", "sha512"], ["-H", "sha512-pbkdf2"],
                                       ["-H", "sha512-pbkdf2", "-I", "1000"]])
def test_mosquitto_passwd_file_read_by_midge(workdir, hash_args):
    path = os.path.join(workdir, "pw")
    mosquitto_passwd(*hash_args, "-c", "-b", path, "alice", "s3cret")
    mosquitto_passwd(*hash_args, "-b", path, "bob", "p\u00e4ss word:with colon")
    assert midge_check(path, "alice", "s3cret") == 0
    assert midge_check(path, "alice", "s3cret ") == 1
    assert midge_check(path, "alice", "") == 1
    assert midge_check(path, "bob", "p\u00e4ss word:with colon") == 0
    assert midge_check(path, "bob", "s3cret") == 1
    assert midge_check(path, "carol", "s3cret") == 1


def test_mosquitto_passwd_upgrade_read_by_midge(workdir):
    path = os.path.join(workdir, "pw")
    with open(path, "w") as f:
        f.write("alice:one\nbob:two\n")
    assert midge_check(path, "alice", "one") == 2  # plain text is refused
    mosquitto_passwd("-U", path)
    assert midge_check(path, "alice", "one") == 0
    assert midge_check(path, "bob", "two") == 0


@pytest.mark.parametrize("hash_args", [[], ["-H", "sha512"], ["-I", "2000"]])
def test_midge_passwd_file_accepted_by_mosquitto(workdir, hash_args):
    path = os.path.join(workdir, "pw")
    r = midge_passwd(*hash_args, "-c", "-b", path, "alice", "s3cret")
    assert r.returncode == 0, r.stderr
    r = midge_passwd(*hash_args, "-b", path, "bob", "other")
    assert r.returncode == 0, r.stderr
    b = start_mosquitto_with_passwords(workdir, path)
    try:
        assert pub(b, "alice", "s3cret") == 0
        assert pub(b, "bob", "other") == 0
        assert pub(b, "alice", "wrong") != 0
        assert pub(b, "bob", "s3cret") != 0
        assert pub(b, "nobody", "s3cret") != 0
        assert pub(b) != 0
    finally:
        b.stop()


def test_midge_passwd_edits_mosquitto_file(workdir):
    path = os.path.join(workdir, "pw")
    mosquitto_passwd("-c", "-b", path, "alice", "a1")
    mosquitto_passwd("-H", "sha512", "-b", path, "bob", "b1")
    mosquitto_passwd("-b", path, "carol", "c1")
    assert midge_passwd("-b", path, "bob", "b2").returncode == 0
    assert midge_passwd("-D", path, "carol").returncode == 0
    assert midge_passwd("-b", path, "dave", "d1").returncode == 0
    with open(path) as f:
        users = [line.split(":")[0] for line in f.read().splitlines()]
    assert users == ["alice", "bob", "dave"]
    b = start_mosquitto_with_passwords(workdir, path)
    try:
        assert pub(b, "alice", "a1") == 0
        assert pub(b, "bob", "b2") == 0
        assert pub(b, "bob", "b1") != 0
        assert pub(b, "carol", "c1") != 0
        assert pub(b, "dave", "d1") == 0
    finally:
        b.stop()


def test_mosquitto_passwd_edits_midge_file(workdir):
    path = os.path.join(workdir, "pw")
    assert midge_passwd("-c", "-b", path, "alice", "a1").returncode == 0
    assert midge_passwd("-b", path, "bob", "b1").returncode == 0
    mosquitto_passwd("-b", path, "bob", "b2")
    mosquitto_passwd("-D", path, "alice")
    assert midge_check(path, "bob", "b2") == 0
    assert midge_check(path, "alice", "a1") == 1


def test_midge_passwd_upgrade_accepted_by_mosquitto(workdir):
    path = os.path.join(workdir, "pw")
    with open(path, "w") as f:
        f.write("# users\nalice:one\nbob:two\n")
    r = midge_passwd("-U", path)
    assert r.returncode == 0, r.stderr
    before = open(path).read()
    assert "# users\n" in before and "one" not in before
    # Running it again leaves hashed lines alone.
    assert midge_passwd("-U", path).returncode == 0
    assert open(path).read() == before
    b = start_mosquitto_with_passwords(workdir, path)
    try:
        assert pub(b, "alice", "one") == 0
        assert pub(b, "bob", "two") == 0
        assert pub(b, "bob", "one") != 0
    finally:
        b.stop()
