"""The ruphin program built for Windows, under Wine, with Linux programs:
each side of a connection on either system, over loopback. Wine runs the
Windows program's sockets in the host's network stack, so a Windows and a
Linux program talk as two hosts would (docs/PLATFORMS.md says where Wine
and Windows differ)."""
import os
import signal
import subprocess

import pytest

COMMANDS = ["holepuncher", "server", "client", "demo"]


@pytest.fixture(scope="module")
def win_ruphin(win_build):
    return os.path.join(win_build, "ruphin.exe")


@pytest.fixture
def program(wine, win_ruphin, ruphin_bin):
    """argv of the ruphin program for "windows" or "linux"."""
    def argv(system, *args):
        if system == "windows":
            return wine.argv(win_ruphin, *args)
        return [ruphin_bin, *args]
    return argv


@pytest.fixture
def start(spawn, wine):
    """Starts a program in the background (with Wine's environment, which a
    Linux program ignores)."""
    def run(argv, **kw):
        return spawn(*argv, env=wine.env, **kw)
    return run


def peer_args(role, hp, session, *extra):
    return [role, "--holepuncher", hp, "--session", session, "--bind", "127.0.0.1:0", *extra]


def holepuncher(start, program, system, free_udp_port, listen_host="127.0.0.1"):
    port = free_udp_port()
    listen = f"[{listen_host}]:{port}" if ":" in listen_host else f"{listen_host}:{port}"
    proc = start(program(system, "holepuncher", "--listen", listen))
    proc.wait_for("listening", timeout=60)
    return f"127.0.0.1:{port}", proc


def echo_server(start, program, system, hp, session):
    server = start(program(system, *peer_args("server", hp, session, "--echo")))
    server.wait_for("REGISTERED", timeout=60)
    return server


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_on_windows(wine, win_ruphin, command):
    result = wine.run(win_ruphin, command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: ruphin {command}")


def test_usage_errors_exit_2_on_windows(wine, win_ruphin):
    assert wine.run(win_ruphin, "client", "--count", "x").returncode == 2
    assert wine.run(win_ruphin, "nonsense").returncode == 2


def test_workers_say_they_need_linux_on_windows(wine, win_ruphin):
    result = wine.run(win_ruphin, "holepuncher", "--listen", "127.0.0.1:0", "--workers", "2",
                      "--no-amplification", "1")
    assert result.returncode == 1
    assert "only Linux has" in result.stderr


def test_sealing_says_it_is_not_built_in_on_windows(wine, win_ruphin, tmp_path):
    """No libsodium for MinGW here (docs/PLATFORMS.md): keygen and
    --key-file say so instead of running unsealed."""
    result = wine.run(win_ruphin, "keygen", "-")
    assert result.returncode == 1
    assert "no sealed sessions" in result.stderr
    key = tmp_path / "k.key"
    key.write_text("ab" * 32 + "\n")
    result = wine.run(win_ruphin, "client", "-H", "127.0.0.1:9", "-s", "x", "--key-file", key)
    assert result.returncode == 2
    assert "this build has no sealed sessions" in result.stderr


def test_the_demo_runs_on_windows(wine, win_ruphin):
    result = wine.run(win_ruphin, "demo")
    assert result.returncode == 0, result.stderr
    assert "round trip:" in result.stdout


# (holepuncher, server, client): every role on Windows once, with the others
# on Linux, and all three on Windows.
MIXES = [("windows", "linux", "linux"), ("linux", "windows", "linux"),
         ("linux", "linux", "windows"), ("windows", "windows", "windows")]


@pytest.mark.parametrize("mix", MIXES, ids=["-".join(m) for m in MIXES])
def test_a_session_with_windows_and_linux_programs(start, program, run_process, free_udp_port,
                                                   wine, mix):
    hp_system, server_system, client_system = mix
    hp, hp_proc = holepuncher(start, program, hp_system, free_udp_port)
    server = echo_server(start, program, server_system, hp, "mixed")
    result = run_process(program(client_system, *peer_args("client", hp, "mixed", "--count", "5")),
                         timeout=90, env=wine.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 sent, 5 received" in result.stdout
    hp_proc.wait_for("SESSION_JOINED mixed")
    assert server.wait_for("ruphin 5", stream="stdout")


def test_lines_from_standard_input_on_windows(start, program, wine, free_udp_port):
    """The Windows client reads standard input on a thread of its own (a
    pipe cannot be waited on with sockets there) in chunks of 4096 bytes:
    lines across chunks arrive whole, and lines ending in CR LF lose the CR."""
    hp, _ = holepuncher(start, program, "linux", free_udp_port)
    server = echo_server(start, program, "linux", hp, "lines")
    long_lines = [f"{n:02d}" + "x" * 900 for n in range(10)]  # 9 KiB: three chunks
    lines = ["first line", "second line", *long_lines]
    result = subprocess.run(program("windows", *peer_args("client", hp, "lines")),
                            input="first line\r\nsecond line\n" + "\r\n".join(long_lines) + "\n",
                            capture_output=True, text=True, timeout=90, env=wine.env)
    assert result.returncode == 0, result.stderr
    server.wait_for(long_lines[-1], stream="stdout")
    assert server.text("stdout").splitlines() == lines
    assert result.stdout.splitlines() == lines


def test_lines_typed_one_at_a_time_on_windows(start, program, free_udp_port):
    """Standard input left open: each line comes back before the next is
    written, so the reader thread hands lines over as they come."""
    hp, _ = holepuncher(start, program, "linux", free_udp_port)
    echo_server(start, program, "linux", hp, "typed")
    client = start(program("windows", *peer_args("client", hp, "typed")), stdin=subprocess.PIPE)
    client.wait_for("connected to", timeout=60)
    for n, line in enumerate(["one", "two", "three"], 1):
        client.proc.stdin.write(line.encode() + b"\r\n")
        client.proc.stdin.flush()
        client.wait_for("\n", stream="stdout", count=n)
    client.proc.stdin.close()
    assert client.stop(sig=None, timeout=30) == 0
    assert client.text("stdout").splitlines() == ["one", "two", "three"]


def test_ctrl_c_stops_a_windows_holepuncher_cleanly(start, program, free_udp_port):
    """Wine turns SIGINT into the console's Ctrl-C event, which the
    program's console control handler takes: the holepuncher says what it
    served and exits 0 (a process killed by the default handler says
    nothing)."""
    hp, hp_proc = holepuncher(start, program, "windows", free_udp_port)
    echo_server(start, program, "linux", hp, "stop")
    hp_proc.wait_for("SESSION_REGISTERED stop")
    assert hp_proc.stop(sig=signal.SIGINT, timeout=30) == 0
    assert "stopping: 1 sessions" in hp_proc.text()


def test_a_windows_holepuncher_on_the_ipv6_wildcard_serves_ipv4(start, program, run_process,
                                                                 free_udp_port):
    """[::] is the default listen address; Windows makes IPv6 sockets
    IPv6-only unless told otherwise."""
    port = free_udp_port("::")
    hp_proc = start(program("windows", "holepuncher", "--listen", f"[::]:{port}"))
    hp_proc.wait_for("listening", timeout=60)
    hp = f"127.0.0.1:{port}"
    echo_server(start, program, "linux", hp, "dual")
    result = run_process(program("linux", *peer_args("client", hp, "dual", "--count", "3")),
                         timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 sent, 3 received" in result.stdout
