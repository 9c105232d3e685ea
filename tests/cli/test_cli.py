"""The ruphin program end to end, over real loopback sockets."""
import contextlib
import subprocess
import time

import pytest

COMMANDS = ["holepuncher", "server", "client", "demo"]


def run(cmd, timeout=20, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@contextlib.contextmanager
def background(*cmd):
    """A long-running subcommand, always stopped (SIGTERM, then SIGKILL)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_line(stream, text, timeout=5.0):
    """Reads stream lines until one contains text; fails after timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = stream.readline()
        if text in line:
            return line
    raise AssertionError(f"never saw {text!r}")


@contextlib.contextmanager
def holepuncher_and_echo_server(ruphin_bin, port, host, session="game"):
    hp = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with background(ruphin_bin, "holepuncher", "--listen", hp) as hp_proc:
        wait_for_line(hp_proc.stderr, "listening")
        with background(ruphin_bin, "server", "--holepuncher", hp, "--session", session,
                        "--echo") as server:
            wait_for_line(server.stderr, "REGISTERED")
            yield hp, server


def test_demo_shows_a_round_trip(ruphin_bin):
    result = run([ruphin_bin, "demo"])
    assert result.returncode == 0, result.stderr
    assert "round trip:" in result.stdout
    for step in ("REGISTERED", "PEER_ANNOUNCED", "CONNECTED", 'DATA "hello through the hole"'):
        assert step in result.stdout


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_echo_with_count(ruphin_bin, free_udp_port, host):
    with holepuncher_and_echo_server(ruphin_bin, free_udp_port(host), host) as (hp, server):
        result = run([ruphin_bin, "client", "--holepuncher", hp, "--session", "game",
                      "--count", "5"])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "5 sent, 5 received"
        assert "connected to" in result.stderr
        server.terminate()
        out, _ = server.communicate(timeout=5)
        assert out.splitlines() == [f"ruphin {i}" for i in range(1, 6)]


def test_lines_from_standard_input(ruphin_bin, free_udp_port):
    with holepuncher_and_echo_server(ruphin_bin, free_udp_port(), "127.0.0.1") as (hp, _):
        result = run([ruphin_bin, "client", "--holepuncher", hp, "--session", "game"],
                      input="first line\nsecond line\n")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["first line", "second line"]


def test_several_clients_on_one_server(ruphin_bin, free_udp_port):
    with holepuncher_and_echo_server(ruphin_bin, free_udp_port(), "127.0.0.1") as (hp, _):
        clients = [subprocess.Popen([ruphin_bin, "client", "--holepuncher", hp, "--session",
                                     "game", "--count", "3"], stdout=subprocess.PIPE, text=True)
                   for _ in range(4)]
        outputs = [c.communicate(timeout=20)[0].strip() for c in clients]
        assert [c.returncode for c in clients] == [0] * 4
        assert outputs == ["3 sent, 3 received"] * 4


def test_missing_session_fails_fast_with_a_clear_message(ruphin_bin, free_udp_port):
    with holepuncher_and_echo_server(ruphin_bin, free_udp_port(), "127.0.0.1") as (hp, _):
        start = time.monotonic()
        result = run([ruphin_bin, "client", "--holepuncher", hp, "--session", "nope",
                      "--count", "1"])
        assert result.returncode == 1
        assert "no such session" in result.stderr
        assert time.monotonic() - start < 5  # answered, not timed out


def test_silent_holepuncher_times_out(ruphin_bin, free_udp_port):
    port = free_udp_port()  # nobody listens there
    start = time.monotonic()
    result = run([ruphin_bin, "client", "--holepuncher", f"127.0.0.1:{port}", "--session", "x",
                  "--count", "1", "--timeout", "1"])
    assert result.returncode == 1
    assert "timed out" in result.stderr
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("command", COMMANDS)
def test_help(ruphin_bin, command):
    result = run([ruphin_bin, command, "--help"])
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: ruphin {command}")


@pytest.mark.parametrize("args", [
    [], ["bogus"], ["client"], ["client", "--holepuncher", "127.0.0.1:1"],
    ["client", "--holepuncher", "127.0.0.1:1", "--session", "x", "--count", "zero"],
    ["server", "--holepuncher", "127.0.0.1:1", "--session", "x" * 21],
    ["holepuncher", "--keepalive-ms", "-5"], ["holepuncher", "extra"],
])
def test_bad_usage_exits_2(ruphin_bin, args):
    result = run([ruphin_bin, *args])
    assert result.returncode == 2, result.stderr
    assert result.stderr


def test_holepuncher_bad_address_exits_1(ruphin_bin):
    result = run([ruphin_bin, "holepuncher", "--listen", "203.0.113.77:1"])
    assert result.returncode == 1
    assert "not available" in result.stderr


def test_version(ruphin_bin):
    result = run([ruphin_bin, "--version"])
    assert result.returncode == 0 and result.stdout.startswith("ruphin 0.")
