"""The interop matrix: the holepuncher, the server and the client each from a
different implementation (the ruphin program, Python, Lua 5.4, LuaJIT, Go);
every combination connects and exchanges datagrams on loopback."""
import contextlib
import itertools
import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IMPLEMENTATIONS = ["program", "python", "lua5.4", "luajit", "go"]
COUNT = 3


@pytest.fixture(scope="module")
def go_role(go_env, tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("gorole") / "role")
    subprocess.run(["go", "build", "-o", exe, "./tests/interop/roles/go"], cwd=ROOT, env=go_env,
                   check=True, capture_output=True, timeout=600)
    return exe


@pytest.fixture(scope="module")
def launchers(ruphin_bin, lua_module, go_role):
    """implementation -> function(role, args) -> (argv, env, ready_stream, ready_text)."""
    python = sys.executable

    def program(role, args):
        if role == "hp":
            return [ruphin_bin, "holepuncher", "--listen", args[0]], None, "stderr", "listening"
        if role == "server":
            return ([ruphin_bin, "server", "-H", args[0], "-s", args[1], "--echo"], None,
                    "stderr", "REGISTERED")
        # -v: it also prints every datagram that came back, for exchange() to check
        return [ruphin_bin, "client", "-v", "-H", args[0], "-s", args[1], "--count", args[2]], \
            None, None, None

    def script(argv_prefix, env):
        def launch(role, args):
            return [*argv_prefix, role, *args], env, "stdout", "READY"
        return launch

    lua54, luajit = lua_module("lua5.4"), lua_module("luajit")
    role_lua = os.path.join(HERE, "roles", "role.lua")
    return {
        "program": program,
        "python": script([python, os.path.join(HERE, "roles", "role.py")], None),
        "lua5.4": script([lua54[0], role_lua], lua54[1]),
        "luajit": script([luajit[0], role_lua], luajit[1]),
        "go": script([go_role], None),
    }


@contextlib.contextmanager
def serving(launch, role, args, logs):
    """Runs a holepuncher or server until the with block ends, once it printed
    its ready text. Its output goes to files in logs, not pipes: nothing can
    block on a full pipe, and waiting for the text never blocks past 15 s."""
    argv, env, stream, ready = launch(role, args)
    out = {"stdout": logs / f"{role}.out", "stderr": logs / f"{role}.err"}
    with open(out["stdout"], "w") as stdout, open(out["stderr"], "w") as stderr:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=stderr)
    try:
        end = time.monotonic() + 15
        while ready not in out[stream].read_text():
            if proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"{argv} not ready (exit code {proc.poll()}): "
                                     f"{out['stdout'].read_text()} {out['stderr'].read_text()}")
            time.sleep(0.01)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def exchange(launchers, logs, hp, hp_impl, server_impl, client_impl):
    """Runs one combination against the holepuncher address hp."""
    session = f"{server_impl}-{client_impl}"
    with serving(launchers[hp_impl], "hp", [hp], logs), \
            serving(launchers[server_impl], "server", [hp, session], logs):
        argv, env, _, _ = launchers[client_impl]("client", [hp, session, str(COUNT)])
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    if client_impl == "program":
        # The script clients count only echoes equal to what they sent; the
        # program counts every datagram, so its echoes are compared here.
        echoes = {f"ruphin {i}" for i in range(1, COUNT + 1)}
        assert f"{COUNT} sent, {COUNT} received" in out and echoes <= set(out.splitlines()), out
    else:
        assert f"RECEIVED {COUNT}" in out, out


@pytest.mark.parametrize("hp_impl,server_impl,client_impl",
                         list(itertools.permutations(IMPLEMENTATIONS, 3)))
def test_combination(launchers, tmp_path, free_udp_port, hp_impl, server_impl, client_impl):
    exchange(launchers, tmp_path, f"127.0.0.1:{free_udp_port()}", hp_impl, server_impl, client_impl)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# Over IPv6, each implementation once in each role (a rotation, not all 60):
# enough to exercise every binding's handling of IPv6 addresses.
ROTATION = [tuple(IMPLEMENTATIONS[(i + k) % len(IMPLEMENTATIONS)] for k in range(3))
            for i in range(len(IMPLEMENTATIONS))]


@pytest.mark.skipif(not ipv6_loopback(), reason="this host has no IPv6 loopback")
@pytest.mark.parametrize("hp_impl,server_impl,client_impl", ROTATION)
def test_combination_over_ipv6(launchers, tmp_path, free_udp_port, hp_impl, server_impl,
                               client_impl):
    exchange(launchers, tmp_path, f"[::1]:{free_udp_port('::1')}", hp_impl, server_impl, client_impl)
