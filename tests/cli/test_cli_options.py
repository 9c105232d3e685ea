"""What the library offers peers and holepunchers, from the program: sealed
sessions (ruphin keygen, --key-file), the timers, buffers and relay
options. Each flag is in --help and is taken in a working session; values
the library refuses are refused with one line."""
import os
import re
import stat
import time

import pytest

# Short timers, so that sessions connect and fail fast.
FAST = ["--punch-interval-ms", "20", "--retransmit-ms", "50"]


def peer(ruphin_bin, role, hp, session, *extra):
    return [ruphin_bin, role, "--holepuncher", hp, "--session", session, "--bind", "127.0.0.1:0",
            *extra]


@pytest.fixture
def holepuncher(spawn, ruphin_bin, free_udp_port):
    hp = f"127.0.0.1:{free_udp_port()}"
    spawn(ruphin_bin, "holepuncher", "--listen", hp).wait_for("listening")
    return hp


@pytest.fixture(scope="module")
def sealing(ruphin_bin):
    """Whether this build seals (libsodium); keygen says so when not."""
    import subprocess
    result = subprocess.run([ruphin_bin, "keygen", "-"], capture_output=True, text=True,
                            timeout=30)
    if result.returncode != 0:
        assert "no sealed sessions" in result.stderr, result.stderr
        return False
    return True


@pytest.fixture
def key_file(ruphin_bin, run_process, tmp_path, sealing):
    """A function writing a new key file with ruphin keygen."""
    if not sealing:
        pytest.skip("this build has no libsodium: no sealed sessions")

    def make(name="session.key"):
        path = tmp_path / name
        result = run_process([ruphin_bin, "keygen", path])
        assert result.returncode == 0, result.stderr
        return path
    return make


def test_keygen_writes_a_private_key_and_never_replaces_one(ruphin_bin, run_process, key_file):
    path = key_file()
    text = path.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", text)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = run_process([ruphin_bin, "keygen", path])
    assert again.returncode == 1
    assert again.stderr == f"ruphin keygen: {path}: exists already (a key is never replaced)\n"
    assert path.read_text() == text
    printed = run_process([ruphin_bin, "keygen", "-"])
    assert printed.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", printed.stdout)
    assert printed.stdout != text  # a new one each time


@pytest.mark.parametrize("args", [[], ["a", "b"], ["--bogus"]])
def test_keygen_usage(ruphin_bin, run_process, args):
    result = run_process([ruphin_bin, "keygen", *args])
    assert result.returncode == 2
    assert result.stderr.startswith("usage: ruphin keygen FILE")


def test_a_sealed_session_through_the_program(ruphin_bin, spawn, run_process, holepuncher,
                                              key_file):
    key = key_file()
    server = spawn(*peer(ruphin_bin, "server", holepuncher, "sealed", "--echo", "--key-file", key,
                         *FAST))
    server.wait_for("REGISTERED")
    result = run_process(peer(ruphin_bin, "client", holepuncher, "sealed", "--count", "3",
                              "--key-file", key, *FAST))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 sent, 3 received"


@pytest.mark.parametrize("client_key", ["other", "none"])
def test_a_client_without_the_key_fails_soon_and_says_why(ruphin_bin, spawn, run_process,
                                                          holepuncher, key_file, client_key):
    """Not after the handshake timeout (10 s by default) but within a few
    punch intervals; the server logs why it dropped the client (as soon, or,
    when the client gave up before the server heard enough of it, at its
    handshake timeout)."""
    server = spawn(*peer(ruphin_bin, "server", holepuncher, "locked", "--echo", "--key-file",
                         key_file(), "--handshake-timeout-ms", "3000", *FAST))
    server.wait_for("REGISTERED")
    extra = ["--key-file", key_file("other.key")] if client_key == "other" else []
    start = time.monotonic()
    result = run_process(peer(ruphin_bin, "client", holepuncher, "locked", "--count", "3",
                              *extra, *FAST))
    assert result.returncode == 1
    assert "ruphin: client: sealed session: the peer does not hold the same key" in result.stderr
    assert time.monotonic() - start < 8, result.stderr  # the handshake timeout is 10 s
    if client_key == "other":
        assert "PUNCH_FAILED" in server.wait_for("same key")


@pytest.mark.parametrize("content", [None, "", "abc\n", "g" * 64 + "\n", "ab" * 33 + "\n",
                                     "ab" * 32 + " extra\n"],
                         ids=["missing", "empty", "short", "not-hex", "long", "trailing-text"])
def test_a_bad_key_file_is_one_clear_line(ruphin_bin, run_process, tmp_path, content):
    path = tmp_path / "bad.key"
    if content is not None:
        path.write_text(content)
    for role in ("server", "client"):
        result = run_process(peer(ruphin_bin, role, "127.0.0.1:9", "x", "--key-file", path))
        assert result.returncode == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"ruphin: --key-file {path}: "), lines


# Every tunable with a valid value: the session still connects with all of them.
TUNABLES = ["--retransmit-ms", "60", "--retransmit-max-ms", "400", "--punch-interval-ms", "30",
            "--socket-buffer", "262144", "--no-local-interrupt", "--keepalive-ms", "2000",
            "--missed-keepalives", "4", "--handshake-timeout-ms", "5000", "--max-payload", "1200"]
PEER_ONLY = ["--relay-after-ms", "1000", "--accept-unverified", "--recovery-timeout-ms", "5000"]


def test_every_tunable_reaches_a_working_session(ruphin_bin, spawn, run_process, free_udp_port):
    hp = f"127.0.0.1:{free_udp_port()}"
    spawn(ruphin_bin, "holepuncher", "--listen", hp, *TUNABLES).wait_for("listening")
    server = spawn(*peer(ruphin_bin, "server", hp, "tuned", "--echo", "--max-peers", "8",
                         *TUNABLES, *PEER_ONLY))
    server.wait_for("REGISTERED")
    result = run_process(peer(ruphin_bin, "client", hp, "tuned", "--count", "3", *TUNABLES,
                              *PEER_ONLY))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 sent, 3 received"


@pytest.mark.parametrize("role", ["holepuncher", "server", "client"])
def test_every_option_is_in_the_help(ruphin_bin, run_process, role):
    text = run_process([ruphin_bin, role, "--help"]).stdout
    flags = [a for a in TUNABLES if a.startswith("--")]
    if role != "holepuncher":
        flags += [a for a in PEER_ONLY if a.startswith("--")] + ["--key-file"]
    if role == "server":
        flags.append("--max-peers")
    assert [f for f in flags if f"  {f}" not in text] == []


@pytest.mark.parametrize("flag,value", [("--retransmit-ms", "0"), ("--punch-interval-ms", "x"),
                                        ("--socket-buffer", "-1"), ("--relay-after-ms", "-5"),
                                        ("--max-peers", "0")])
def test_a_bad_value_is_one_clear_line(ruphin_bin, run_process, flag, value):
    result = run_process(peer(ruphin_bin, "server", "127.0.0.1:9", "x", flag, value))
    assert result.returncode == 2
    assert result.stderr == f"ruphin: invalid value for {flag}: {value}\n"


def test_a_refused_join_is_logged_once_with_its_cause(ruphin_bin, spawn, run_process,
                                                      free_udp_port):
    """In the strict default (--no-amplification 2) an original server's
    session cannot be joined: the client times out, and the holepuncher says
    why and which option serves such servers, once (not once per Join)."""
    hp = f"127.0.0.1:{free_udp_port()}"
    hp_proc = spawn(ruphin_bin, "holepuncher", "--listen", hp)
    hp_proc.wait_for("listening")
    server = spawn(*peer(ruphin_bin, "server", hp, "old", "--protocol-0", "--echo"))
    server.wait_for("REGISTERED")
    result = run_process(peer(ruphin_bin, "client", hp, "old", "--count", "1", "--timeout", "2",
                              *FAST))
    assert result.returncode == 1
    log = hp_proc.wait_for("--no-amplification 1 serves them")
    assert log.count("never proved its address") == 1, log
