"""The Lua binding under Lua 5.4 and LuaJIT, built the way users build it:
luarocks make, compiling the core's sources (no CMake build)."""
import glob
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
ROCKSPEC = os.path.join(ROOT, "ruphin-0.1.0-1.rockspec")

@pytest.fixture(scope="module", params=["lua5.4", "luajit"])
def lua(request, lua_module):
    """(interpreter, environment with LUA_CPATH) for a luarocks-built module."""
    return lua_module(request.param)


def run_lua(lua, script):
    interpreter, env = lua
    return subprocess.run([interpreter, script], env=env, capture_output=True, text=True,
                          timeout=60)


def test_binding(lua):
    result = run_lua(lua, os.path.join(HERE, "binding_test.lua"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout


def test_coroutine_helper(lua):
    result = run_lua(lua, os.path.join(HERE, "co_test.lua"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "coroutines done" in result.stdout


def test_loopback_example(lua):
    result = run_lua(lua, os.path.join(ROOT, "examples", "lua", "loopback.lua"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "echoed 3 datagrams" in result.stdout


def test_luajit_with_its_own_headers(lua_module):
    """Built against LuaJIT's headers (LUA_INCDIR=/usr/include/luajit-2.1, as
    docs/BINDINGS.md offers) instead of Lua 5.1's, the module passes the same
    checks under LuaJIT."""
    lua = lua_module("luajit-headers")
    assert "-I/usr/include/luajit-2.1" in lua_module.logs["luajit-headers"]
    result = run_lua(lua, os.path.join(HERE, "binding_test.lua"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout


def test_to_be_closed(lua_module):
    """<close> is Lua 5.4 syntax: this one runs under Lua 5.4 only."""
    result = run_lua(lua_module("lua5.4"), os.path.join(HERE, "close_test.lua"))
    assert result.returncode == 0, result.stderr


def test_rockspec_lists_every_core_source():
    listed = set(re.findall(r'"(core/src/[^"]+\.c)"', open(ROCKSPEC).read()))
    present = {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "core", "src", "*.c"))}
    assert listed == present


def test_module_does_not_link_liblua(lua, tmp_path):
    cpath = lua[1]["LUA_CPATH"].replace("?", "ruphin")
    out = subprocess.run(["ldd", cpath], capture_output=True, text=True).stdout
    assert "liblua" not in out and "libluajit" not in out


def test_binding_under_sanitizers(lua_module, tmp_path):
    """The binding's checks under Lua 5.4 with the module (and the core)
    built with AddressSanitizer, leak detection and UBSan."""
    runtimes = [subprocess.run(["cc", f"-print-file-name={lib}"], capture_output=True,
                               text=True).stdout.strip() for lib in ("libasan.so", "libubsan.so")]
    if not all(os.path.isabs(path) for path in runtimes):
        pytest.skip("the C compiler has no sanitizer runtimes")
    interpreter, env = lua_module("lua5.4")
    subprocess.run(["cc", "-std=c11", "-g", "-O1", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-shared", "-fPIC",
                    "-I/usr/include/lua5.4", "-I" + os.path.join(ROOT, "core", "include"),
                    os.path.join(ROOT, "bindings", "lua", "ruphin_lua.c"),
                    *glob.glob(os.path.join(ROOT, "core", "src", "*.c")),
                    "-DRUPHIN_WITH_SODIUM", "-lsodium", "-lpthread",
                    "-o", str(tmp_path / "ruphin.so")], check=True)
    env = {**env, "LUA_CPATH": str(tmp_path / "?.so"), "LD_PRELOAD": " ".join(runtimes),
           "ASAN_OPTIONS": "detect_leaks=1"}
    for script in ("binding_test.lua", "co_test.lua"):
        result = subprocess.run([interpreter, os.path.join(HERE, script)], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and "ERROR" not in result.stderr, \
            result.stdout + result.stderr
