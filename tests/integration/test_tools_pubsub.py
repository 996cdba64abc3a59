"""Round trips of midge_pub / midge_sub / midge_rr against Mosquitto and
midge, and interop with Mosquitto's own tools."""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import start_midge, start_mosquitto, free_port
from tools_util import (Sub, addr, broker, midge_built, needs_tools, run, tool,  # noqa: F401
                        wait_until)

pytestmark = needs_tools


@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("version", ["311", "5"])
def test_qos_levels(broker, qos, version):
    s = Sub(["midge_sub"] + addr(broker) + ["-V", version, "-t", "q/t", "-q", str(qos), "-C",
                                             "2", "-F", "%q|%r|%p|%m"]).ready()
    for i in range(2):
        r = run(["midge_pub"] + addr(broker) + ["-V", version, "-t", "q/t", "-q", str(qos), "-m",
                                                "msg%d" % i])
        assert r.returncode == 0, r.stderr
    assert s.wait() == 0, s.stderr
    got = [line.decode().rstrip("\n").split("|") for line in s.lines]
    assert [g[2] for g in got] == ["msg0", "msg1"]
    assert all(g[0] == str(qos) and g[1] == "0" for g in got)
    if qos:
        assert all(int(g[3]) > 0 for g in got)


def test_retained_then_cleared(broker):
    r = run(["midge_pub"] + addr(broker) + ["-t", "r/t", "-r", "-q", "1", "-m", "keep"])
    assert r.returncode == 0, r.stderr
    r = run(["midge_sub"] + addr(broker) + ["-t", "r/t", "-C", "1", "-F", "%r %p", "-W", "5"])
    assert r.returncode == 0 and r.stdout == b"1 keep\n", r
    r = run(["midge_pub"] + addr(broker) + ["-t", "r/t", "-r", "-n"])
    assert r.returncode == 0, r.stderr
    r = run(["midge_sub"] + addr(broker) + ["-t", "r/t", "-W", "1"])
    assert r.returncode == 27 and r.stdout == b"" and b"Timed out" in r.stderr, r


def test_no_retain_flag_R_and_retained_only(broker):
    assert run(["midge_pub"] + addr(broker) + ["-t", "nr/a", "-r", "-m", "old"]).returncode == 0
    r = run(["midge_sub"] + addr(broker) + ["-t", "nr/#", "-R", "-W", "1"])
    assert r.returncode == 27 and r.stdout == b"", r
    r = run(["midge_sub"] + addr(broker) + ["-t", "nr/#", "--retained-only", "-C", "1", "-W",
                                            "5"])
    assert r.returncode == 0 and r.stdout == b"old\n", r


def test_remove_retained(broker):
    for t in ("rm/a", "rm/b"):
        assert run(["midge_pub"] + addr(broker) + ["-t", t, "-r", "-m", "x"]).returncode == 0
    r = run(["midge_sub"] + addr(broker) + ["-t", "rm/#", "--remove-retained", "-C", "2", "-v"])
    assert r.returncode == 0 and sorted(r.stdout.splitlines()) == [b"rm/a x", b"rm/b x"], r
    r = run(["midge_sub"] + addr(broker) + ["-t", "rm/#", "-W", "1"])
    assert r.returncode == 27 and r.stdout == b"", r


def test_will_published_on_crash(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "will/t", "-C", "1", "-v"]).ready()
    victim = Sub(["midge_sub"] + addr(broker) + ["-t", "other", "--will-topic", "will/t",
                                                 "--will-payload", "gone", "--will-qos", "1"])
    victim.ready()
    victim.proc.send_signal(signal.SIGKILL)
    victim.kill()
    assert s.wait() == 0
    assert s.lines == [b"will/t gone\n"]


def test_will_not_published_on_clean_exit(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "will2/t", "-W", "2"]).ready()
    r = run(["midge_pub"] + addr(broker) + ["-t", "x", "-m", "y", "--will-topic", "will2/t",
                                            "--will-payload", "gone"])
    assert r.returncode == 0
    assert s.wait() == 27 and s.lines == []


@pytest.mark.parametrize("version", ["311", "5"])
def test_persistent_session_gets_offline_messages(broker, version):
    sid = ["-i", "persist-%s" % version, "-c", "-q", "1", "-V", version]
    r = run(["midge_sub"] + addr(broker) + sid + ["-t", "ps/t", "-E"])
    assert r.returncode == 0, r.stderr
    for i in range(3):
        assert run(["midge_pub"] + addr(broker) + ["-t", "ps/t", "-q", "1", "-m",
                                                   "m%d" % i]).returncode == 0
    r = run(["midge_sub"] + addr(broker) + sid + ["-t", "ps/t", "-C", "3", "-W", "5"])
    assert r.returncode == 0 and r.stdout == b"m0\nm1\nm2\n", r


def test_clean_session_loses_offline_messages(broker):
    r = run(["midge_sub"] + addr(broker) + ["-i", "cleanid", "-q", "1", "-t", "cs/t", "-E"])
    assert r.returncode == 0
    assert run(["midge_pub"] + addr(broker) + ["-t", "cs/t", "-q", "1", "-m", "x"]).returncode == 0
    r = run(["midge_sub"] + addr(broker) + ["-i", "cleanid", "-q", "1", "-t", "cs/t", "-W", "1"])
    assert r.returncode == 27 and r.stdout == b""


def test_v5_properties_format(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-V", "5", "-t", "p/t", "-C", "1", "-F",
                                             "%P|%R|%D|%E|%C|%F|%p"]).ready()
    r = run(["midge_pub"] + addr(broker) + [
        "-t", "p/t", "-m", "body", "-D", "PUBLISH", "user-property", "k1", "v1",
        "-D", "PUBLISH", "user-property", "k2", "v2", "-D", "PUBLISH", "response-topic", "re/sp",
        "-D", "PUBLISH", "correlation-data", "corr", "-D", "PUBLISH", "message-expiry-interval",
        "300", "-D", "PUBLISH", "content-type", "text/plain", "-D", "PUBLISH",
        "payload-format-indicator", "1"])
    assert r.returncode == 0, r.stderr
    assert s.wait() == 0
    fields = s.lines[0].decode().rstrip("\n").split("|")
    assert fields[0] == "k1:v1 k2:v2"
    assert fields[1:4] == ["re/sp", "corr"] + [fields[3]]
    assert 295 <= int(fields[3]) <= 300  # the broker counts the expiry down
    assert fields[4:] == ["text/plain", "1", "body"]


def test_json_output(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-V", "5", "-t", "j/#", "-C", "2", "--json",
                                             "-q", "1"]).ready()
    assert run(["midge_pub"] + addr(broker) + ["-t", "j/text", "-q", "1", "-m", "h\u00e9llo",
                                               "-D", "PUBLISH", "user-property", "a", "b"]
               ).returncode == 0
    assert run(["midge_pub"] + addr(broker) + ["-t", "j/bin", "-s"], input=b"\xff\x00\x01"
               ).returncode == 0
    assert s.wait() == 0
    a, b = [json.loads(line) for line in s.lines]
    assert a["topic"] == "j/text" and a["payload"] == "h\u00e9llo"
    assert a["payload_encoding"] == "utf8" and a["qos"] == 1 and a["retain"] is False
    assert a["mid"] > 0 and a["properties"]["user-properties"] == [["a", "b"]]
    assert b["topic"] == "j/bin" and b["payload_encoding"] == "base64"
    assert b["payload"] == "/wAB" and b["payloadlen"] == 3


def test_count_C(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "c/t", "-C", "3", "-q", "1"]).ready()
    for i in range(5):
        run(["midge_pub"] + addr(broker) + ["-t", "c/t", "-q", "1", "-m", str(i)])
        if s.proc.poll() is not None:
            break
    assert s.wait() == 0
    assert s.lines == [b"0\n", b"1\n", b"2\n"]


def test_timeout_W(broker):
    t0 = time.monotonic()
    r = run(["midge_sub"] + addr(broker) + ["-t", "w/t", "-W", "1"])
    elapsed = time.monotonic() - t0
    assert r.returncode == 27 and r.stderr == b"Timed out\n"
    assert 0.9 <= elapsed < 5


def test_format_fields(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "f/t", "-C", "1", "-q", "1", "-F",
                                             "%t|%p|%l|%x|%X|%q|%r|%-6t|%06l|@@|\\t|%%"]).ready()
    assert run(["midge_pub"] + addr(broker) + ["-t", "f/t", "-q", "1", "-m", "AB\n"]
               ).returncode == 0
    assert s.wait() == 0
    assert b"".join(s.lines) == b"f/t|AB\n|3|41420a|41420A|1|0|f/t   |000003|@|\t|%\n"


def test_line_mode(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "l/t", "-C", "4", "-v"]).ready()
    r = run(["midge_pub"] + addr(broker) + ["-t", "l/t", "-l"], input=b"a\nb\n\nc")
    assert r.returncode == 0, r.stderr
    assert s.wait() == 0
    assert s.lines == [b"l/t a\n", b"l/t b\n", b"l/t (null)\n", b"l/t c\n"]


def test_line_mode_many_lines_qos1(broker):
    n = 2000
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "lm/t", "-C", str(n), "-q", "1"]).ready()
    data = b"".join(b"line %d\n" % i for i in range(n))
    r = run(["midge_pub"] + addr(broker) + ["-t", "lm/t", "-l", "-q", "1"], input=data)
    assert r.returncode == 0, r.stderr
    assert s.wait() == 0
    assert b"".join(s.lines) == data


def test_file_payload(broker, workdir):
    path = os.path.join(workdir, "payload.bin")
    data = bytes(range(256)) * 40
    with open(path, "wb") as f:
        f.write(data)
    assert run(["midge_pub"] + addr(broker) + ["-t", "file/t", "-r", "-f", path]).returncode == 0
    r = run(["midge_sub"] + addr(broker) + ["-t", "file/t", "-C", "1", "-N"])
    assert r.returncode == 0 and r.stdout == data


def test_stdin_binary_1mb_exact(broker):
    data = os.urandom(1 << 20)
    assert run(["midge_pub"] + addr(broker) + ["-t", "bin/t", "-r", "-q", "1", "-s"],
               input=data).returncode == 0
    r = run(["midge_sub"] + addr(broker) + ["-t", "bin/t", "-C", "1", "-N", "-q", "1"])
    assert r.returncode == 0
    assert r.stdout == data


def test_null_message(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "n/t", "-C", "1", "-v"]).ready()
    assert run(["midge_pub"] + addr(broker) + ["-t", "n/t", "-n"]).returncode == 0
    assert s.wait() == 0
    assert s.lines == [b"n/t (null)\n"]


def test_repeat(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "rep/t", "-C", "3"]).ready()
    t0 = time.monotonic()
    r = run(["midge_pub"] + addr(broker) + ["-t", "rep/t", "-m", "x", "--repeat", "3",
                                            "--repeat-delay", "0.2"])
    assert r.returncode == 0 and time.monotonic() - t0 >= 0.4
    assert s.wait() == 0 and s.lines == [b"x\n"] * 3


def test_filter_out_and_unsubscribe(broker):
    s = Sub(["midge_sub"] + addr(broker) + ["-t", "fo/#", "-T", "fo/skip", "-C", "1",
                                             "-v"]).ready()
    run(["midge_pub"] + addr(broker) + ["-t", "fo/skip", "-m", "no"])
    run(["midge_pub"] + addr(broker) + ["-t", "fo/keep", "-m", "yes"])
    assert s.wait() == 0 and s.lines == [b"fo/keep yes\n"]
    # -U after -t removes the subscription of a kept session
    sid = ["-i", "unsub-me", "-c", "-q", "1"]
    assert run(["midge_sub"] + addr(broker) + sid + ["-t", "us/t", "-E"]).returncode == 0
    assert run(["midge_sub"] + addr(broker) + sid + ["-U", "us/t", "-E"]).returncode == 0
    run(["midge_pub"] + addr(broker) + ["-t", "us/t", "-q", "1", "-m", "x"])
    r = run(["midge_sub"] + addr(broker) + sid + ["-t", "other", "-W", "1"])
    assert r.returncode == 27 and r.stdout == b""


def test_url_flag(broker):
    url = "mqtt://%s:%d/url/t" % (broker.host, broker.port)
    s = Sub(["midge_sub", "-L", url, "-C", "1", "-v"]).ready()
    assert run(["midge_pub", "-L", url, "-m", "via url"]).returncode == 0
    assert s.wait() == 0 and s.lines == [b"url/t via url\n"]


def test_rr_request_response(broker):
    responder = Sub(["midge_sub"] + addr(broker) + ["-V", "5", "-t", "svc/req", "-C", "1",
                                                     "-F", "%R|%D|%p"]).ready()
    rr = subprocess.Popen([tool("midge_rr")] + addr(broker) + [
        "-t", "svc/req", "-e", "svc/resp/1", "-m", "ping", "-D", "PUBLISH", "correlation-data",
        "c42", "-W", "10", "-v"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert responder.wait() == 0
    rtopic, corr, payload = responder.lines[0].decode().rstrip("\n").split("|")
    assert (rtopic, corr, payload) == ("svc/resp/1", "c42", "ping")
    # someone else's answer first, then ours
    run(["midge_pub"] + addr(broker) + ["-t", rtopic, "-m", "not mine", "-D", "PUBLISH",
                                        "correlation-data", "other"])
    run(["midge_pub"] + addr(broker) + ["-t", rtopic, "-m", "pong", "-D", "PUBLISH",
                                        "correlation-data", corr])
    out, err = rr.communicate(timeout=15)
    assert rr.returncode == 0, err
    assert out == b"svc/resp/1 pong\n"


def test_rr_timeout(broker):
    r = run(["midge_rr"] + addr(broker) + ["-t", "nobody", "-e", "r/x", "-m", "q", "-W", "1"])
    assert r.returncode == 27 and r.stderr == b"Timed out\n"


def _stop_checked(b):
    rc = b.stop()
    if b.name == "midge":
        b.check_clean(rc)


def _restartable(kind, workdir, port):
    return start_midge(workdir, port=port) if kind == "midge" else \
        start_mosquitto(workdir, port=port)


def test_sub_reconnects_after_broker_restart(broker_kind, workdir):
    kind = broker_kind
    if kind == "midge" and not midge_built():
        pytest.skip("midge broker not built yet")
    port = free_port()
    b = _restartable(kind, workdir, port)
    s = Sub(["midge_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "rc/t", "-C", "2"]).ready()
    try:
        assert run(["midge_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "rc/t", "-m",
                    "before"]).returncode == 0
        assert wait_until(lambda: len(s.lines) == 1)
        _stop_checked(b)
        b = _restartable(kind, workdir, port)
        # resubscribed once the reconnect's SUBACK arrives
        assert wait_until(lambda: sum(b"SUBACK" in d for d in s.debug) >= 2, timeout=20)
        assert run(["midge_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "rc/t", "-m",
                    "after"]).returncode == 0
        assert s.wait() == 0
        assert s.lines == [b"before\n", b"after\n"]
    finally:
        s.kill()
        _stop_checked(b)


@pytest.mark.parametrize("version", ["311", "5"])
def test_interop_midge_pub_to_mosquitto_sub(broker, version):
    p = subprocess.Popen(["mosquitto_sub"] + addr(broker) + ["-V", version, "-t", "io/a", "-C",
                                                             "1", "-v", "-q", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def published():
            run(["midge_pub"] + addr(broker) + ["-V", version, "-t", "io/a", "-q", "1", "-m",
                                                "hi"])
            return p.poll() is not None
        assert wait_until(published, timeout=10, step=0.2)
        out, _ = p.communicate(timeout=10)
        assert out.splitlines()[0] == b"io/a hi"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.mark.parametrize("version", ["311", "5"])
def test_interop_mosquitto_pub_to_midge_sub(broker, version):
    s = Sub(["midge_sub"] + addr(broker) + ["-V", version, "-t", "io/b", "-C", "1", "-v", "-q",
                                             "2"]).ready()
    r = subprocess.run(["mosquitto_pub"] + addr(broker) + ["-V", version, "-t", "io/b", "-q", "2",
                                                           "-m", "from mosquitto"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S)
    assert r.returncode == 0
    assert s.wait() == 0 and s.lines == [b"io/b from mosquitto\n"]


TIMEOUT_S = 20


@pytest.mark.parametrize("fmt", [
    "%t|%p|%q|%r|%l|%x|%X|%P|%C|%D|%E|%F|%R|%10.3t|%-5l|%05l|%-8p|%6x|%A|%S",
    "%j", "%J", "%J --pretty", "%j --pretty",
])
def test_output_matches_mosquitto_sub(broker, fmt):
    """midge_sub and mosquitto_sub print the same bytes for the same
    messages (timestamps aside). The messages are retained so both
    subscribers get them without a race."""
    import re
    msgs = [
        ["-t", "same/a", "-m", '{"v": [1, 2]}', "-D", "PUBLISH", "user-property", "k", "v",
         "-D", "PUBLISH", "content-type", "application/json", "-D", "PUBLISH",
         "correlation-data", "cd", "-D", "PUBLISH", "response-topic", "re/t", "-D", "PUBLISH",
         "payload-format-indicator", "1"],
        ["-t", "same/b", "-m", 'tab\there "quoted" \\ back\x01'],
        ["-t", "same/c", "-m", ' {"k" : {"z":[ {"y":1}, [] ], "e":{}, "s":"\\u00e9"}} ']
    ]
    for m in msgs:
        assert run(["midge_pub"] + addr(broker) + ["-V", "5", "-q", "1", "-r"] + m
                   ).returncode == 0
    fmt, *extra = fmt.split(" ")
    args = addr(broker) + ["-V", "5", "-t", "same/#", "-C", "3", "-q", "1", "-F", fmt] + extra
    ours = run(["midge_sub"] + args)
    theirs = run(["mosquitto_sub"] + args)
    assert ours.returncode == 0 and theirs.returncode == 0

    def norm(out):
        return re.sub(rb'"tst":(\s*)"[^"]*"', rb'"tst":\1""', out)
    assert norm(ours.stdout) == norm(theirs.stdout)
    assert ours.stderr == theirs.stderr


@pytest.mark.parametrize("version,will_expected", [("311", False), ("5", True)])
def test_sigint_disconnects_like_mosquitto_sub(broker, version, will_expected):
    """SIGINT ends midge_sub with a DISCONNECT, exit 0; in v5 it asks the
    broker to publish the will (reason 0x04), as mosquitto_sub does."""
    watcher = Sub(["midge_sub"] + addr(broker) + ["-t", "sig/will", "-v", "-W", "3"]).ready()
    s = Sub(["midge_sub"] + addr(broker) + ["-V", version, "-t", "sig/x", "--will-topic",
                                             "sig/will", "--will-payload", "bye"]).ready()
    s.proc.send_signal(signal.SIGINT)
    assert s.wait() == 0
    watcher.wait()
    assert watcher.lines == ([b"sig/will bye\n"] if will_expected else [])


def test_pub_lines_survive_broker_restart(broker_kind, workdir):
    """midge_pub -l keeps reading stdin across a broker restart: lines
    written while the broker is down are sent after it comes back."""
    if broker_kind == "midge" and not midge_built():
        pytest.skip("midge broker not built yet")
    port = free_port()
    b = _restartable(broker_kind, workdir, port)
    a = ["-h", "127.0.0.1", "-p", str(port)]
    pub = subprocess.Popen([tool("midge_pub")] + a + ["-t", "pl/t", "-l", "-q", "1", "-d"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    s = None
    try:
        s = Sub(["midge_sub"] + a + ["-t", "pl/t", "-q", "1", "-i", "pl-sub", "-c"]).ready()
        pub.stdin.write(b"one\n")
        pub.stdin.flush()
        assert wait_until(lambda: s.lines == [b"one\n"])
        s.kill()
        _stop_checked(b)
        pub.stdin.write(b"two\n")
        pub.stdin.flush()
        # Down long enough that midge_pub's reconnect delay has grown to
        # 2 s (0.5, 1, 2, ...): the subscriber below is back first.
        time.sleep(2.0)
        b = _restartable(broker_kind, workdir, port)
        s = Sub(["midge_sub"] + a + ["-t", "pl/t", "-q", "1", "-i", "pl-sub", "-c"]).ready()
        pub.stdin.write(b"three\n")
        pub.stdin.close()
        assert pub.wait(20) == 0
        assert wait_until(lambda: len(s.lines) >= 2)
        assert s.lines == [b"two\n", b"three\n"]
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()
        if s:
            s.kill()
        _stop_checked(b)
