"""Fixtures shared by the whole suite."""
import os
import shutil
import socket
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def build_dir():
    """The CMake build to test (RUPHIN_BUILD_DIR, default build/), built if missing."""
    path = os.environ.get("RUPHIN_BUILD_DIR", os.path.join(ROOT, "build"))
    if not os.path.exists(os.path.join(path, "libruphin.so")):
        subprocess.run(["cmake", "-S", ROOT, "-B", path], check=True, capture_output=True)
        subprocess.run(["cmake", "--build", path, "-j2"], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def ruphin_bin(build_dir):
    """The ruphin program of that build."""
    path = os.path.join(build_dir, "ruphin")
    assert os.path.exists(path), f"{path} was not built"
    return path


@pytest.fixture(scope="session")
def free_udp_port():
    """A function giving a UDP port that was free a moment ago on a host."""
    def pick(host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
            return s.getsockname()[1]
    return pick


# Lua runtimes: interpreter, luarocks --lua-version, extra `luarocks make` arguments.
LUA_RUNTIMES = {
    "lua5.4": ("lua5.4", "5.4", []),
    "luajit": ("luajit", "5.1", []),  # built against Lua 5.1's headers, loaded by LuaJIT
}


@pytest.fixture(scope="session")
def lua_module(tmp_path_factory):
    """A function: runtime name -> (interpreter, env with LUA_CPATH), building
    the module once per runtime with `luarocks make`, as a user would."""
    built = {}

    def build(name):
        if name not in built:
            interpreter, version, extra = LUA_RUNTIMES[name]
            if not shutil.which(interpreter) or not shutil.which("luarocks"):
                pytest.skip(f"{interpreter} or luarocks missing (scripts/test.sh installs them)")
            tree = tmp_path_factory.mktemp(f"rocks-{name}")
            # luarocks builds in its working directory and leaves ruphin.so
            # there, where it would shadow the Python package: build in a copy
            # of just what the rockspec needs (which also proves that is enough).
            src = tmp_path_factory.mktemp(f"rock-src-{name}")
            shutil.copytree(os.path.join(ROOT, "core"), src / "core")
            shutil.copytree(os.path.join(ROOT, "bindings", "lua"), src / "bindings" / "lua")
            shutil.copy(os.path.join(ROOT, "ruphin-0.1.0-1.rockspec"), src)
            result = subprocess.run(
                ["luarocks", "--lua-version", version, "--tree", str(tree), "make",
                 "ruphin-0.1.0-1.rockspec", *extra],
                cwd=src, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, result.stdout + result.stderr
            cpath = os.path.join(str(tree), "lib", "lua", version, "?.so")
            path = os.path.join(str(tree), "share", "lua", version, "?.lua") + ";;"
            built[name] = (interpreter, {**os.environ, "LUA_CPATH": cpath, "LUA_PATH": path})
        return built[name]
    return build


@pytest.fixture(scope="session")
def go_env(tmp_path_factory):
    """Environment for Debian's Go: private caches, no module proxy."""
    if shutil.which("go") is None:
        pytest.skip("go is not installed (scripts/test.sh installs golang-go)")
    cache = tmp_path_factory.mktemp("go")
    return {**os.environ, "GOPATH": str(cache / "path"), "GOCACHE": str(cache / "cache"),
            "GOPROXY": "off", "GOFLAGS": "", "CGO_ENABLED": "1"}
