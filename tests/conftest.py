"""Fixtures shared by the whole suite."""
import os
import select
import shutil
import signal
import socket
import subprocess
import time

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
def linux_extras(build_dir):
    """Whether that build uses Linux's extras (recvmmsg, GSO, socket groups),
    or takes the portable POSIX path (cmake -DRUPHIN_PORTABLE=ON, the path
    of macOS and the BSDs; core/src/platform.h)."""
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        return "RUPHIN_PORTABLE:BOOL=ON" not in f.read().splitlines()


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


@pytest.fixture(scope="session")
def run_process():
    """A function running a command to its end with output captured as text.
    Standard input is empty unless input= is given; when the timeout passes
    the process is killed (subprocess.run does) and the test fails."""
    def run(argv, timeout=30, **kw):
        if "input" not in kw:
            kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                              timeout=timeout, **kw)
    return run


class Background:
    """A long-running process whose output is collected without ever blocking
    the test: wait_for() gives up after its timeout even if nothing comes."""

    def __init__(self, argv, stdin=subprocess.DEVNULL, **kw):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, **kw)
        self.output = {"stdout": b"", "stderr": b""}
        self._pipes = {self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}

    def _read(self, timeout):
        """Takes what the pipes have within timeout; False once both are closed."""
        if not self._pipes:
            return False
        ready, _, _ = select.select(list(self._pipes), [], [], max(timeout, 0))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                self.output[self._pipes[fd]] += chunk
            else:
                del self._pipes[fd]
        return True

    def text(self, stream="stderr"):
        return self.output[stream].decode(errors="replace")

    def wait_for(self, needle, stream="stderr", timeout=10.0, count=1):
        """Waits until needle was printed count times on stream; returns the text."""
        end = time.monotonic() + timeout
        while self.text(stream).count(needle) < count:
            if time.monotonic() >= end or not self._read(end - time.monotonic()):
                raise AssertionError(f"{self.argv} never printed {needle!r} (x{count}); "
                                     f"stdout: {self.text('stdout')!r}; "
                                     f"stderr: {self.text('stderr')!r}")
        return self.text(stream)

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Sends sig (None: none, just wait), reads the rest of the output and
        returns the exit code; kills the process if it outlives timeout."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        end = time.monotonic() + timeout
        while time.monotonic() < end and self._read(end - time.monotonic()):
            pass
        try:
            self.proc.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        self._pipes.clear()
        return self.proc.returncode


@pytest.fixture
def spawn():
    """A function starting a Background process; every one still running at
    the end of the test is stopped (SIGTERM, then SIGKILL)."""
    started = []

    def start(*argv, **kw):
        started.append(Background([str(a) for a in argv], **kw))
        return started[-1]
    yield start
    for proc in reversed(started):
        proc.stop()


def missing_tool(what):
    """Skips the calling test for a tool that this host lacks. scripts/test.sh
    installs every tool and sets RUPHIN_ALL_TOOLS=1: there a missing tool fails
    the test instead, so that CI cannot pass by skipping a binding's tests."""
    if os.environ.get("RUPHIN_ALL_TOOLS") == "1":
        pytest.fail(f"{what}, although scripts/test.sh installs it", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="session")
def tool_missing():
    """missing_tool, for test files (which cannot import conftest)."""
    return missing_tool


@pytest.fixture(scope="session")
def tool_path():
    """A function: a program's path on PATH, or missing_tool naming the
    Debian package that has it."""
    def find(name, package):
        path = shutil.which(name)
        if path is None:
            missing_tool(f"{name} is not installed (Debian: {package})")
        return path
    return find


# Lua runtimes: interpreter, luarocks --lua-version, extra `luarocks make` arguments.
LUA_RUNTIMES = {
    "lua5.4": ("lua5.4", "5.4", []),
    "luajit": ("luajit", "5.1", []),  # built against Lua 5.1's headers, loaded by LuaJIT
    # built against LuaJIT's own headers, as docs/BINDINGS.md offers
    "luajit-headers": ("luajit", "5.1", ["LUA_INCDIR=/usr/include/luajit-2.1"]),
}


@pytest.fixture(scope="session")
def lua_module(tmp_path_factory):
    """A function: runtime name -> (interpreter, env with LUA_CPATH), building
    the module once per runtime with `luarocks make`, as a user would. Its
    attribute logs maps a runtime to the output of its build."""
    built = {}

    def build(name):
        if name not in built:
            interpreter, version, extra = LUA_RUNTIMES[name]
            if not shutil.which(interpreter) or not shutil.which("luarocks"):
                missing_tool(f"{interpreter} or luarocks is missing")
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
            build.logs[name] = result.stdout
            cpath = os.path.join(str(tree), "lib", "lua", version, "?.so")
            path = os.path.join(str(tree), "share", "lua", version, "?.lua") + ";;"
            built[name] = (interpreter, {**os.environ, "LUA_CPATH": cpath, "LUA_PATH": path})
        return built[name]
    build.logs = {}
    return build


@pytest.fixture(scope="session")
def go_env(tmp_path_factory):
    """Environment for Debian's Go: private caches, no module proxy."""
    if shutil.which("go") is None:
        missing_tool("go is not installed (Debian: golang-go)")
    cache = tmp_path_factory.mktemp("go")
    return {**os.environ, "GOPATH": str(cache / "path"), "GOCACHE": str(cache / "cache"),
            "GOPROXY": "off", "GOFLAGS": "", "CGO_ENABLED": "1"}
