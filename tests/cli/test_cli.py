"""The ruphin program end to end, over real loopback sockets."""
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = ["holepuncher", "server", "client", "demo"]
# Short timers, so that expiry and disconnection show within a second.
FAST = ["--keepalive-ms", "100", "--missed-keepalives", "2"]


def address(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@pytest.fixture(autouse=True)
def leak_checks(monkeypatch):
    """In the sanitizer pass Python runs without leak checks (its own leaks
    are not ours), but the program is ours: check its leaks (exit code 23)."""
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=1")


def peer(ruphin_bin, role, hp, session, *extra, bind=None):
    """argv of a server or client bound to loopback (of the holepuncher's
    family): bound to the wildcard address, a peer would also offer this
    host's other addresses to its peers, and these tests stay on loopback."""
    bind = bind or ("[::1]:0" if hp.startswith("[") else "127.0.0.1:0")
    return [ruphin_bin, role, "--holepuncher", hp, "--session", session, "--bind", bind, *extra]


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def holepuncher(spawn, ruphin_bin, free_udp_port):
    """A function starting a holepuncher on a free port; returns its address."""
    def start(host="127.0.0.1", *extra):
        hp = address(host, free_udp_port(host))
        proc = spawn(ruphin_bin, "holepuncher", "--listen", hp, *extra)
        proc.wait_for("listening")
        return hp, proc
    return start


@pytest.fixture
def echo_server(spawn, ruphin_bin, holepuncher):
    """A holepuncher and an echoing server for session "game"."""
    def start(host="127.0.0.1"):
        hp, hp_proc = holepuncher(host)
        server = spawn(*peer(ruphin_bin, "server", hp, "game", "--echo"))
        server.wait_for("REGISTERED")
        return hp, server
    return start


def test_demo_shows_the_handshake_and_a_round_trip(ruphin_bin, run_process):
    result = run_process([ruphin_bin, "demo"])
    assert result.returncode == 0, result.stderr
    steps = [("holepuncher", "SESSION_REGISTERED"), ("server", "REGISTERED"),
             ("holepuncher", "SESSION_JOINED"), ("client", "CONNECTED"),
             ("server", "DATA"), ("client", "DATA")]
    lines = result.stdout.splitlines()
    found = [next(i for i, line in enumerate(lines) if re.match(
        rf"\s*[0-9.]+ ms\s+{who}\s+{event}\s", line)) for who, event in steps]
    assert found == sorted(found), result.stdout  # in the order of the handshake
    assert '"hello through the hole" in: the echo' in lines[found[-1]]
    assert re.search(r"^round trip: [0-9]+\.[0-9]{3} ms$", result.stdout, re.M)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_echo_with_count(ruphin_bin, run_process, echo_server, host):
    if host == "::1" and not has_ipv6_loopback():
        pytest.skip("this host has no IPv6 loopback")
    hp, server = echo_server(host)
    result = run_process(peer(ruphin_bin, "client", hp, "game", "--count", "5"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5 sent, 5 received"
    assert re.search(rf"connected to {re.escape(address(host, ''))}\d+ after \d+ ms",
                     result.stderr), result.stderr
    server.stop()
    assert server.text("stdout").splitlines() == [f"ruphin {i}" for i in range(1, 6)]


def test_lines_from_standard_input(ruphin_bin, run_process, echo_server):
    hp, _ = echo_server()
    result = run_process(peer(ruphin_bin, "client", hp, "game"),
                         input="first line\nsecond line\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["first line", "second line"]


def test_standard_input_does_not_hold_up_the_connection(ruphin_bin, spawn, echo_server):
    """Lines typed one at a time come back one at a time while stdin stays open."""
    hp, _ = echo_server()
    client = spawn(*peer(ruphin_bin, "client", hp, "game"), stdin=subprocess.PIPE)
    client.wait_for("connected to")
    for n, line in enumerate(["one", "two", "three"], 1):
        client.proc.stdin.write(line.encode() + b"\n")
        client.proc.stdin.flush()
        client.wait_for("\n", stream="stdout", count=n)
    client.proc.stdin.close()
    assert client.stop(sig=None) == 0, client.text()
    assert client.text("stdout").splitlines() == ["one", "two", "three"]


def test_closed_standard_input(ruphin_bin, run_process, echo_server):
    """With descriptor 0 closed the client must not take its own socket for
    standard input: it connects, sees end of input and exits."""
    hp, _ = echo_server()
    start = time.monotonic()
    result = run_process(peer(ruphin_bin, "client", hp, "game"), preexec_fn=lambda: os.close(0))
    assert result.returncode == 0, result.stderr
    assert "connected to" in result.stderr and result.stdout == ""
    assert time.monotonic() - start < 5  # not stuck reading


def test_several_clients_on_one_server(ruphin_bin, spawn, echo_server):
    hp, _ = echo_server()
    clients = [spawn(*peer(ruphin_bin, "client", hp, "game", "--count", "3")) for _ in range(4)]
    assert [c.stop(sig=None, timeout=20) for c in clients] == [0] * 4
    assert [c.text("stdout").strip() for c in clients] == ["3 sent, 3 received"] * 4


def test_nothing_back_is_a_failure(ruphin_bin, run_process, spawn, holepuncher):
    hp, _ = holepuncher()
    server = spawn(*peer(ruphin_bin, "server", hp, "mute"))  # no --echo
    server.wait_for("REGISTERED")
    result = run_process(peer(ruphin_bin, "client", hp, "mute", "--count", "2"))
    assert result.returncode == 1
    assert result.stdout.strip() == "2 sent, 0 received"
    assert "connected, but no datagram came back" in result.stderr
    assert server.wait_for("ruphin 2", stream="stdout").splitlines() == ["ruphin 1", "ruphin 2"]


def test_missing_session_fails_fast_with_a_clear_message(ruphin_bin, run_process, echo_server):
    hp, _ = echo_server()
    start = time.monotonic()
    result = run_process(peer(ruphin_bin, "client", hp, "nope", "--count", "1"))
    assert result.returncode == 1
    assert "no such session" in result.stderr
    assert time.monotonic() - start < 5  # answered, not timed out (the default is 10 s)


def test_silent_holepuncher_times_out(ruphin_bin, run_process, free_udp_port):
    port = free_udp_port()  # nobody listens there
    start = time.monotonic()
    result = run_process(peer(ruphin_bin, "client", f"127.0.0.1:{port}", "x",
                               "--count", "1", "--timeout", "1"))
    assert result.returncode == 1
    assert "timed out" in result.stderr
    assert time.monotonic() - start < 5


def test_server_gives_up_on_a_silent_holepuncher(ruphin_bin, run_process, free_udp_port):
    result = run_process(peer(ruphin_bin, "server", f"127.0.0.1:{free_udp_port()}", "x",
                               "--handshake-timeout-ms", "300"), timeout=10)
    assert result.returncode == 1
    assert "failed: " in result.stderr and "in time" in result.stderr


def test_holepuncher_logs_sessions(ruphin_bin, spawn, run_process, holepuncher):
    hp, hp_proc = holepuncher("127.0.0.1", *FAST)
    server = spawn(*peer(ruphin_bin, "server", hp, "game", "--echo", *FAST))
    hp_proc.wait_for("SESSION_REGISTERED game")
    result = run_process(peer(ruphin_bin, "client", hp, "game", "--count", "1"))
    assert result.returncode == 0, result.stderr
    hp_proc.wait_for("SESSION_JOINED game")
    assert server.stop() == 0  # the owner stops refreshing: the session expires
    hp_proc.wait_for("SESSION_EXPIRED game", timeout=5)


def test_quiet_holepuncher_serves_without_logging_sessions(ruphin_bin, spawn, run_process,
                                                           holepuncher):
    hp, hp_proc = holepuncher("127.0.0.1", "--quiet", *FAST)
    server = spawn(*peer(ruphin_bin, "server", hp, "game", "--echo", *FAST))
    server.wait_for("REGISTERED")
    result = run_process(peer(ruphin_bin, "client", hp, "game", "--count", "1"))
    assert result.returncode == 0, result.stderr
    assert server.stop() == 0
    time.sleep(0.5)  # the session expires (FAST: within 0.3 s)
    assert hp_proc.stop() == 0
    log = hp_proc.text()
    assert "listening on" in log and "stopping: 0 sessions" in log, log
    assert "SESSION_" not in log, log


def register(host, port, session):
    """Sends one Register frame from a plain socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(struct.pack(">HH", 4 + len(session), 2) + session, (host, port))


def test_holepuncher_default_address(ruphin_bin, spawn):
    """Without --listen: port 47470 on every address, IPv4 and IPv6 alike."""
    hp = spawn(ruphin_bin, "holepuncher")
    try:
        log = hp.wait_for("listening on", timeout=5)
    except AssertionError:
        if "already in use" in hp.text():
            pytest.skip("port 47470 is taken on this host")
        raise
    if not has_ipv6_loopback():
        assert "listening on 0.0.0.0:47470" in log
        return
    assert "listening on [::]:47470" in log
    register("127.0.0.1", 47470, b"over-ipv4")
    register("::1", 47470, b"over-ipv6")
    hp.wait_for("SESSION_REGISTERED over-ipv4 127.0.0.1:")
    hp.wait_for("SESSION_REGISTERED over-ipv6 [::1]:")


def test_holepuncher_log_escapes_session_ids(holepuncher):
    """A session id is whatever bytes a stranger sent: the log shows them escaped."""
    hp, hp_proc = holepuncher()
    host, port = hp.rsplit(":", 1)
    register(host, int(port), b"evil\n\x1b[31m")
    log = hp_proc.wait_for("SESSION_REGISTERED evil")
    assert "SESSION_REGISTERED evil\\x0a\\x1b[31m 127.0.0.1:" in log
    assert "\x1b" not in log


def test_server_logs_connects_and_disconnects(ruphin_bin, spawn, run_process, holepuncher,
                                              free_udp_port):
    hp, _ = holepuncher()
    server = spawn(*peer(ruphin_bin, "server", hp, "game", "--echo", *FAST))
    server.wait_for("REGISTERED")
    client = f"127.0.0.1:{free_udp_port()}"
    result = run_process(peer(ruphin_bin, "client", hp, "game", "--count", "1", bind=client))
    assert result.returncode == 0, result.stderr
    server.wait_for(f"CONNECTED {client}")
    server.wait_for(f"DISCONNECTED {client}", timeout=5)  # silent for 2 x 100 ms


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_cleanly(ruphin_bin, spawn, holepuncher, sig):
    hp, hp_proc = holepuncher()
    server = spawn(*peer(ruphin_bin, "server", hp, "game"))
    server.wait_for("REGISTERED")
    start = time.monotonic()
    assert server.stop(sig) == 0
    hp_proc.wait_for("SESSION_EXPIRED game")  # a server that stops ends its session
    assert hp_proc.stop(sig) == 0
    assert time.monotonic() - start < 3  # polls are bounded at 200 ms
    assert "stopping: 0 sessions" in hp_proc.text()


@pytest.mark.parametrize("command", COMMANDS)
def test_help(ruphin_bin, run_process, command):
    result = run_process([ruphin_bin, command, "--help"])
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: ruphin {command}")


def test_top_level_help_lists_every_command(ruphin_bin, run_process):
    result = run_process([ruphin_bin, "--help"])
    assert result.returncode == 0
    assert all(f"\n  {c} " in result.stdout for c in COMMANDS)


@pytest.mark.parametrize("args", [
    [], ["bogus"], ["client"], ["client", "--holepuncher", "127.0.0.1:1"],
    ["client", "--holepuncher", "127.0.0.1:1", "--session", "x", "--count", "zero"],
    ["client", "-H", "127.0.0.1:1", "-s", "x", "--timeout", "0"],
    ["client", "-H", "127.0.0.1:1", "-s", "x", "--no-such-option"],
    ["server", "--holepuncher", "127.0.0.1:1", "--session", "x" * 21],
    ["server", "-H", "127.0.0.1:1", "-s", "x", "--keepalive-ms", "5"],  # below the minimum
    ["holepuncher", "--keepalive-ms", "-5"], ["holepuncher", "extra"],
    ["holepuncher", "--no-amplification", "3"], ["holepuncher", "--workers", "2"],
    ["demo", "extra"],
])
def test_bad_usage_exits_2(ruphin_bin, run_process, args):
    result = run_process([ruphin_bin, *args])
    assert result.returncode == 2, result.stderr
    assert result.stderr


def test_holepuncher_bad_address_exits_1(ruphin_bin, run_process):
    result = run_process([ruphin_bin, "holepuncher", "--listen", "203.0.113.77:1"])
    assert result.returncode == 1
    assert "not available" in result.stderr


def test_unresolvable_holepuncher_exits_1(ruphin_bin, run_process):
    result = run_process([ruphin_bin, "client", "-H", "no such host:1", "-s", "x"])
    assert result.returncode == 1
    assert result.stderr.startswith("ruphin: no such host:1: ")


def test_version(ruphin_bin, run_process):
    result = run_process([ruphin_bin, "--version"])
    header = open(os.path.join(ROOT, "core", "include", "ruphin.h")).read()
    version = re.search(r'#define RUPHIN_VERSION_STRING "(.*)"', header).group(1)
    assert result.returncode == 0 and result.stdout == f"ruphin {version}\n"


NO_GROUPS = "the portable path has no socket groups (test_workers_need_linux_socket_groups)"


def test_workers_need_linux_socket_groups(ruphin_bin, run_process, linux_extras):
    """Where the kernel cannot steer a group (the portable path of macOS and
    the BSDs; Windows: tests/windows), --workers fails with what it needs."""
    if linux_extras:
        pytest.skip("this build has socket groups: the tests below run them")
    result = run_process([ruphin_bin, "holepuncher", "--listen", "127.0.0.1:0", "--workers", "2",
                          "--no-amplification", "1"])
    assert result.returncode == 1
    assert "--workers 2 needs a group of sockets" in result.stderr
    assert "only Linux has" in result.stderr


def test_workers_hand_every_session_to_one_of_them(ruphin_bin, holepuncher, linux_extras):
    """--workers 3: three holepunchers on one port that share nothing. The
    kernel steers each datagram by its session id, so every Join finds the
    session its Register made, whichever socket sends it (with the kernel's
    plain 4-tuple hash, most Joins would reach a worker without it)."""
    if not linux_extras:
        pytest.skip(NO_GROUPS)
    hp, hp_proc = holepuncher("127.0.0.1", "--workers", "3", "--rate-limit", "0",
                              "--no-amplification", "1")  # its Registers are original ones
    assert "(3 workers)" in hp_proc.text()
    host, port = hp.rsplit(":", 1)
    target = (host, int(port))
    ids = [f"steered-{i}".encode() for i in range(60)]
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(5)]
    try:
        owner, joiners = sockets[0], sockets[1:]
        for s in sockets:
            s.settimeout(5)
        for ident in ids:
            owner.sendto(struct.pack(">HH", 4 + len(ident), 2) + ident, target)
            assert struct.unpack(">HH", owner.recv(64)[:4])[1] == 6  # RegisterAck
        for ident in ids:
            for s in joiners:
                s.sendto(struct.pack(">HH", 4 + len(ident), 3) + ident, target)
                assert struct.unpack(">HH", s.recv(64)[:4])[1] == 4, ident  # PeerInfo
    finally:
        for s in sockets:
            s.close()
    assert hp_proc.stop() == 0
    log = hp_proc.text()
    assert "stopping: 60 sessions" in log
    per_worker = [int(n) for n in re.findall(r"worker \d: (\d+) sessions", log)]
    assert len(per_worker) == 3 and sum(per_worker) == 60
    assert all(n > 0 for n in per_worker)  # spread over all of them


def test_clients_connect_through_a_group_of_workers(ruphin_bin, spawn, run_process, holepuncher,
                                                    linux_extras):
    """Servers and clients as they are (generation 1, owner tokens, padded
    Joins since members give no cookies) connect through --workers 2, with
    sessions on both workers. Mode 1: an owner in a group gets its cookie
    only with its RegisterAckExt, so in the strict mode its session becomes
    joinable only once it proved its address at a refresh."""
    if not linux_extras:
        pytest.skip(NO_GROUPS)
    hp, hp_proc = holepuncher("127.0.0.1", "--workers", "2", "--no-amplification", "1")
    names = [f"game{i}" for i in range(6)]
    servers = [spawn(*peer(ruphin_bin, "server", hp, name, "--echo")) for name in names]
    for server in servers:
        server.wait_for("REGISTERED")
    for name in names:
        result = run_process(peer(ruphin_bin, "client", hp, name, "--count", "1"))
        assert result.returncode == 0, result.stderr
    assert hp_proc.stop() == 0
    per_worker = [int(n) for n in re.findall(r"worker \d: (\d+) sessions", hp_proc.text())]
    assert per_worker == [3, 3]  # these ids' FNV-1a hashes alternate between the two
