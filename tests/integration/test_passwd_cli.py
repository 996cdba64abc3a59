"""midge_passwd's command line: prompts, flags, errors and file handling,
checked against what mosquitto_passwd does."""
import os
import stat

from conftest import midge_binary


def midge_passwd(*args, stdin=None):
    import subprocess
    return subprocess.run([midge_binary("midge_passwd")] + list(args), input=stdin,
                          capture_output=True, timeout=30, text=True)


def check(path, user, password):
    import subprocess
    return subprocess.run([midge_binary("passwd_check"), path, user, password],
                          capture_output=True, timeout=30).returncode


def test_prompt_reads_password_twice(workdir):
    path = os.path.join(workdir, "pw")
    r = midge_passwd("-c", path, "alice", stdin="secret\nsecret\n")
    assert r.returncode == 0, r.stderr
    assert "Password: " in r.stderr and "Reenter password: " in r.stderr
    assert "secret" not in r.stdout + r.stderr
    assert check(path, "alice", "secret") == 0


def test_prompt_mismatch_and_empty(workdir):
    path = os.path.join(workdir, "pw")
    r = midge_passwd("-c", path, "alice", stdin="one\ntwo\n")
    assert r.returncode == 1
    assert "Passwords do not match" in r.stderr
    assert not os.path.exists(path)
    r = midge_passwd("-c", path, "alice", stdin="")
    assert r.returncode == 1
    assert not os.path.exists(path)


def test_hash_types_and_iterations(workdir):
    path = os.path.join(workdir, "pw")
    assert midge_passwd("-c", "-b", path, "a", "x").returncode == 0
    assert midge_passwd("-H", "sha512", "-b", path, "b", "y").returncode == 0
    assert midge_passwd("-I", "5000", "-b", path, "c", "z").returncode == 0
    lines = open(path).read().splitlines()
    assert lines[0].startswith("a:$7$101$")
    assert lines[1].startswith("b:$6$")
    assert lines[2].startswith("c:$7$5000$")
    for user, pw in (("a", "x"), ("b", "y"), ("c", "z")):
        assert check(path, user, pw) == 0


def test_update_replaces_and_delete_removes(workdir):
    path = os.path.join(workdir, "pw")
    with open(path, "w") as f:
        f.write("# a comment\n\n")
    assert midge_passwd("-b", path, "a", "1").returncode == 0
    assert midge_passwd("-b", path, "b", "2").returncode == 0
    assert midge_passwd("-b", path, "a", "3").returncode == 0
    text = open(path).read()
    assert text.startswith("# a comment\n\n")
    assert [l.split(":")[0] for l in text.splitlines()[2:]] == ["a", "b"]
    assert check(path, "a", "3") == 0 and check(path, "a", "1") == 1
    assert midge_passwd("-D", path, "a").returncode == 0
    assert check(path, "a", "3") == 1 and check(path, "b", "2") == 0
    r = midge_passwd("-D", path, "nobody")
    assert r.returncode == 1 and "not found" in r.stderr


def test_mode_kept_on_rewrite(workdir):
    path = os.path.join(workdir, "pw")
    assert midge_passwd("-c", "-b", path, "a", "1").returncode == 0
    os.chmod(path, 0o640)
    assert midge_passwd("-b", path, "b", "2").returncode == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert [n for n in os.listdir(workdir) if ".tmp-" in n] == []


def test_errors(workdir):
    path = os.path.join(workdir, "pw")
    cases = [
        (["-c", "-D", path, "a"], "cannot be used together"),
        (["-b", path, "a", "x"], "Unable to open password file"),
        (["-c", "-b", path, "a:b", "x"], "must not contain the ':'"),
        (["-c", "-b", path, "", "x"], "Empty username"),
        (["-c", "-b", path, "a", ""], "Empty password"),
        (["-H", "md5", "-c", "-b", path, "a", "x"], "Unknown hash type"),
        (["-I", "0", "-c", "-b", path, "a", "x"], "iterations must be > 0"),
        (["-I", "10000001", "-c", "-b", path, "a", "x"], "At most 10000000"),
        (["-U", "-c", path], "cannot be used with"),
        ([], "Usage:"),
        (["-c", path], "Usage:"),
        (["-x", path, "a"], "Usage:"),
    ]
    for args, message in cases:
        r = midge_passwd(*args, stdin="")
        assert r.returncode == 1, args
        assert message in r.stderr, (args, r.stderr)
    assert not os.path.exists(path)
    with open(path, "w") as f:
        f.write("a:one\nbroken line\n")
    r = midge_passwd("-U", path)
    assert r.returncode == 1 and "line 2" in r.stderr
    assert open(path).read() == "a:one\nbroken line\n"
