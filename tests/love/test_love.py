"""examples/love, the two-player LÖVE game, run by LÖVE 11.4 (LuaJIT) under
one Xvfb: two instances exchange positions through a holepuncher, each
finding the Lua module another way a game ships it, and bad input ends the
game with one clear line and a non-zero exit code."""
import os
import re
import select
import shutil
import subprocess
import time
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GAME = os.path.join(ROOT, "examples", "love")
FRAMES = 600  # the game runs 60 frames a second: 10 s, ample to connect on a busy machine
IDENTITY = "ruphin-love"  # conf.lua's t.identity: the save directory's name


@pytest.fixture(scope="module")
def love(tool_path):
    return tool_path("love", "love")


@pytest.fixture(scope="module")
def display(love, tool_missing):
    """One Xvfb for every instance; -displayfd makes it pick a free display
    (two xvfb-run -a started at once can race for the same one)."""
    if shutil.which("Xvfb") is None:
        tool_missing("Xvfb is not installed (Debian: xvfb)")
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_end)
    number, end = b"", time.monotonic() + 20
    try:
        while not number.endswith(b"\n") and time.monotonic() < end:
            if select.select([read_end], [], [], end - time.monotonic())[0]:
                chunk = os.read(read_end, 16)
                if not chunk:
                    break
                number += chunk
        assert number.strip().isdigit(), f"Xvfb gave no display number (exit {xvfb.poll()})"
        yield ":" + number.decode().strip()
    finally:
        os.close(read_end)
        xvfb.terminate()
        try:
            xvfb.wait(timeout=10)
        except subprocess.TimeoutExpired:
            xvfb.kill()
            xvfb.wait()


@pytest.fixture(scope="module")
def rock(lua_module):
    """The module built by `luarocks --lua-version 5.1 make`, as LuaJIT loads
    it: (environment with LUA_CPATH and LUA_PATH, ruphin.so, ruphin/co.lua)."""
    _, built = lua_module("luajit")
    so = built["LUA_CPATH"].replace("?", "ruphin")
    co = built["LUA_PATH"].split(";")[0].replace("?.lua", os.path.join("ruphin", "co.lua"))
    assert os.path.isfile(so) and os.path.isfile(co)
    return luarocks_path(so.split(os.sep + "lib" + os.sep + "lua" + os.sep)[0]), so, co


def luarocks_path(tree):
    """LUA_PATH and LUA_CPATH as `luarocks path` prints them for the tree."""
    out = subprocess.run(["luarocks", "--lua-version", "5.1", "--tree", tree, "path"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    env = dict(re.findall(r"^export (LUA_C?PATH)='([^']*)'$", out, re.M))
    assert set(env) == {"LUA_PATH", "LUA_CPATH"}, out
    return env


def ship(rock, directory):
    """Puts the module where LÖVE's own loaders look: ruphin.so and ruphin/co.lua."""
    _, so, co = rock
    os.makedirs(os.path.join(directory, "ruphin"), exist_ok=True)
    shutil.copy(so, directory)
    shutil.copy(co, os.path.join(directory, "ruphin"))


@pytest.fixture
def base_env(tmp_path, display):
    """No LUA_PATH or LUA_CPATH, a private save directory, the Xvfb display."""
    env = {k: v for k, v in os.environ.items() if k not in ("LUA_PATH", "LUA_CPATH")}
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_RUNTIME_DIR=str(runtime), DISPLAY=display)
    return env


def game_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("ruphin-love:")]


def test_two_players_exchange_positions(spawn, ruphin_bin, free_udp_port, love, rock,
                                        base_env, tmp_path):
    """The server finds the module through LUA_CPATH and LUA_PATH as
    `luarocks path` gives them for the tree, the client in its game directory; each
    exits 0 after FRAMES frames only if it received the other's positions and
    the other echoed one of its frame numbers."""
    hp = f"127.0.0.1:{free_udp_port()}"
    spawn(ruphin_bin, "holepuncher", "--listen", hp).wait_for("listening")
    rock_env = {**base_env, "LUA_CPATH": rock[0]["LUA_CPATH"], "LUA_PATH": rock[0]["LUA_PATH"]}
    server = spawn(love, GAME, "--holepuncher", hp, "--session", "dots", "--role", "server",
                   "--frames", FRAMES, env=rock_env)
    server.wait_for("registered session", stream="stdout", timeout=30)

    game = tmp_path / "game"
    shutil.copytree(GAME, game)
    ship(rock, game)
    client = spawn(love, game, "--holepuncher", hp, "--session", "dots", "--role", "client",
                   "--frames", FRAMES, env=base_env)
    limit = FRAMES / 60 + 30
    results = {"client": client.stop(sig=None, timeout=limit),
               "server": server.stop(sig=None, timeout=limit)}
    for name, proc in (("client", client), ("server", server)):
        assert results[name] == 0, (name, proc.text("stdout"), proc.text("stderr"))
        assert f"{FRAMES} frames:" in proc.text("stdout")
        assert "positions received, the other player saw our frame" in proc.text("stdout")
        assert game_lines(proc.text("stderr")) == []
    assert "the other player joined from 127.0.0.1:" in server.text("stdout")
    assert "joined session \"dots\"; the other player is at 127.0.0.1:" in client.text("stdout")


def test_joining_a_session_nobody_opened_fails_at_once(spawn, ruphin_bin, free_udp_port,
                                                       run_process, love, rock, base_env):
    """The client, with the module in the game's save directory, fails with one
    line and exit code 1 as soon as the holepuncher answers."""
    hp = f"127.0.0.1:{free_udp_port()}"
    spawn(ruphin_bin, "holepuncher", "--listen", hp).wait_for("listening")
    ship(rock, os.path.join(base_env["XDG_DATA_HOME"], "love", IDENTITY))
    start = time.monotonic()
    result = run_process([love, GAME, "--holepuncher", hp, "--session", "nobody", "--role",
                          "client"], env=base_env, timeout=30)
    assert result.returncode == 1, result.stdout + result.stderr
    assert game_lines(result.stderr) == [
        f'ruphin-love: cannot join session "nobody" at {hp}: the holepuncher has no such session']
    assert time.monotonic() - start < 20


@pytest.mark.parametrize("args, message", [
    (["--holepuncher", "127.0.0.1:47470", "--session", "dots"],
     "--role server|client is missing"),
    (["--holepuncher", "127.0.0.1:47470", "--session", "dots", "--role", "referee"],
     '--role "referee" is neither server nor client'),
    (["--session", "dots", "--role", "client"], "--holepuncher HOST:PORT is missing"),
    (["--holepuncher", "127.0.0.1", "--session", "dots", "--role", "client"],
     '--holepuncher "127.0.0.1" is not HOST:PORT'),
    (["--holepuncher", "127.0.0.1:47470", "--session", "dots", "--role", "client",
      "--frames", "ten"], '--frames "ten" is not a positive whole number'),
    (["--holepuncher", "127.0.0.1:47470", "--session", "x" * 21, "--role", "client"],
     "--session must be 1 to 20 bytes long"),
])
def test_bad_arguments_give_a_usage_line(run_process, love, base_env, args, message):
    """Without a display at all: a wrong command line never opens a window."""
    env = {k: v for k, v in base_env.items() if k != "DISPLAY"}
    result = run_process([love, GAME, *args], env=env, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert game_lines(result.stderr) == [
        f"ruphin-love: {message}; usage: love examples/love --holepuncher HOST:PORT"
        " --session ID --role server|client [--frames N]"]


def test_module_inside_a_love_archive_is_not_found(run_process, love, rock, base_env, tmp_path):
    """A .love archive cannot carry the C module: ruphin.so and ruphin/co.lua
    zipped with the game are not loaded. The game says so in one line."""
    game = tmp_path / "game"
    shutil.copytree(GAME, game)
    ship(rock, game)
    archive = tmp_path / "dots.love"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(game.rglob("*")):
            z.write(path, path.relative_to(game))
    result = run_process([love, archive, "--holepuncher", "127.0.0.1:47470", "--session", "dots",
                          "--role", "client"], env=base_env, timeout=30)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = game_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(
        "ruphin-love: cannot load the ruphin module: module 'ruphin' not found"), lines
