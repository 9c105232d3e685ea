"""A LAN party of Windows peers: the ruphin program built for Windows, under
Wine, on the two hosts behind one router of the NAT lab (natlab.SAME_NAT).
The peers bind the wildcard address, so each announces its LAN addresses
from GetAdaptersAddresses (core/src/sock.c, interface_addresses); the client
can only reach its server's LAN address (198.18.0.2) if the server announced
it, since the holepuncher sees both behind the router's public address.

Wine 8 keeps a program's sockets in the wineserver (server-side sockets) and
asks a driver in winedevice.exe (nsiproxy.sys) for the adapters; one
wineserver serves every process of a WINEPREFIX, found through /tmp, which
network namespaces share. A Windows program started in a host's namespace
thus uses the network of wherever its prefix's wineserver was started. Each
Windows host gets a prefix of its own (in the Windows build folder, reused
across runs), whose wineserver and first processes are started inside that
host's namespace and stopped before the lab is taken down."""
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402
import matrix  # noqa: E402

sys.path.insert(0, os.path.join(natlab.ROOT, "tests", "windows"))
from winetools import WINE_ENV, find_wine64  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.natlab]
WHY = natlab.available()
if WHY:
    pytestmark.append(pytest.mark.skip(reason=WHY))

MINGW_CC = "x86_64-w64-mingw32-gcc"
TOOLCHAIN = os.path.join(natlab.ROOT, "cmake", "mingw-w64-x86_64.cmake")
# The wineserver started in a host's namespace outlives its last process by
# this long (wineserver -p), so that the peer finds the very server whose
# view of the network was checked, even after a wait (making the other
# host's prefix takes about 15 s the first time). A test stops it at once;
# this bounds how long one outlives a run that was killed.
LINGER_S = 60


@pytest.fixture(scope="module")
def wine64(tool_missing):
    path = find_wine64()
    if path is None:
        tool_missing("Wine is not installed (Debian: wine64)")
    return path


@pytest.fixture(scope="module")
def win_build(tool_missing):
    """The MinGW-w64 build (RUPHIN_WIN_BUILD_DIR, default build-win/), made
    if ruphin.exe or test_sock.exe is missing (as tests/windows does)."""
    path = os.environ.get("RUPHIN_WIN_BUILD_DIR", os.path.join(natlab.ROOT, "build-win"))
    if not all(os.path.exists(os.path.join(path, exe))
               for exe in ("ruphin.exe", os.path.join("tests", "c", "test_sock.exe"))):
        if shutil.which(MINGW_CC) is None:
            tool_missing("MinGW-w64 is not installed (Debian: gcc-mingw-w64-x86-64)")
        subprocess.run(["cmake", "-S", natlab.ROOT, "-B", path,
                        f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}"],
                       check=True, capture_output=True, timeout=300)
        subprocess.run(["cmake", "--build", path, "-j2"], check=True, capture_output=True,
                       timeout=900)
    return path


@pytest.fixture
def prefixes_locked(win_build):
    """The lab's prefixes are this run's alone: a second run at the same
    time would find this run's wineservers, in this run's namespaces."""
    with open(os.path.join(win_build, "wineprefix-natlab.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def windows_host(lab, role, wine64, win_build):
    """Readies a lab host to run Windows programs; yields the argv that
    runs one there (through `env`, so lab.popen and matrix.start need no
    environment of their own). Its prefix's wineserver is started in the
    host's namespace and killed on exit."""
    prefix = os.path.join(win_build, f"wineprefix-natlab-{role}")
    env = {**os.environ, **WINE_ENV, "WINEPREFIX": prefix}
    wineserver = os.path.join(os.path.dirname(wine64), "wineserver")

    def stop():
        # -k ends the server and every process of the prefix; -w returns
        # once it is gone (at once if none runs). Both work from any namespace.
        subprocess.run([wineserver, "-k"], env=env, capture_output=True, timeout=60)
        subprocess.run([wineserver, "-w"], env=env, capture_output=True, timeout=60)

    def in_ns(*argv, timeout=300):
        # Output goes to files, not pipes: the processes Wine starts for the
        # prefix (services.exe, winedevice.exe ...) inherit it and live as
        # long as the wineserver, so a pipe would reach its end only then.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(["ip", "netns", "exec", lab.hosts[role], *argv], env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    timeout=timeout)
            out.seek(0), err.seek(0)
            return subprocess.CompletedProcess(argv, result.returncode, out.read(), err.read())
    os.makedirs(prefix, exist_ok=True)
    stop()  # one left behind by a run that was killed would be in a stale namespace
    try:
        started = in_ns(wineserver, f"-p{LINGER_S}", timeout=60)  # returns once it listens
        assert started.returncode == 0, started.stderr
        booted = in_ns(wine64, "wineboot", "--init")  # makes the prefix the first time
        assert booted.returncode == 0, booted.stderr
        # The adapters that this prefix's Wine sees are the host's: otherwise
        # what follows would run in another namespace's network.
        seen = in_ns(wine64, os.path.join(win_build, "tests", "c", "test_sock.exe"),
                     "--local-addresses", timeout=60)
        assert seen.returncode == 0, seen.stdout + seen.stderr
        assert [line.strip() for line in seen.stdout.splitlines() if line.startswith("local")] \
            == [f"local {natlab.LAN_HOST[role]}:0"], seen.stdout
        yield ["env", *(f"{k}={v}" for k, v in {**WINE_ENV, "WINEPREFIX": prefix}.items()),
               wine64, os.path.join(win_build, "ruphin.exe")]
    finally:
        stop()


def log_of(path):
    with open(path) as f:
        return f.read()


# (server, client): both on Windows, and a Windows server with a Linux client.
SYSTEMS = [("windows", "windows"), ("windows", "linux")]


@pytest.mark.parametrize("server_system,client_system", SYSTEMS,
                         ids=[f"{s}-server-{c}-client" for s, c in SYSTEMS])
def test_windows_peers_behind_one_nat_connect_over_the_lan(
        ruphin_bin, wine64, win_build, prefixes_locked, tmp_path, server_system, client_system):
    # The steps of matrix.trial, with Windows peers: a Linux holepuncher on
    # the internet, an echoing server, a client sending 3 datagrams; no
    # --bind, so both peers are on the wildcard address.
    log = {role: str(tmp_path / f"{role}.log") for role in ("hp", "server", "client")}
    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(natlab.Lab(natlab.SAME_NAT, natlab.SAME_NAT))
        # Entered after the lab, so left before it: the wineservers end
        # before their namespaces are deleted.
        program = {role: stack.enter_context(windows_host(lab, role, wine64, win_build))
                   if system == "windows" else [ruphin_bin]
                   for role, system in (("server", server_system), ("client", client_system))}
        assert matrix.start(lab, "holepuncher", [ruphin_bin, "holepuncher", "--listen", matrix.HP],
                            log["hp"], "listening", 5), log_of(log["hp"])
        assert matrix.start(lab, "server", [*program["server"], "server", "-H", matrix.HP,
                                            "-s", matrix.SESSION, "--echo"],
                            log["server"], "REGISTERED", 60), log_of(log["server"])
        with open(log["client"], "w") as err:
            client = lab.popen("client", [*program["client"], "client", "-H", matrix.HP,
                                          "-s", matrix.SESSION, "--count", "3", "--timeout", "10"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        client.wait(60)
        result = matrix.read_result(log["client"], client.returncode)
        logs = "\n".join(f"--- {role}\n{log_of(path)}" for role, path in log.items())
        assert result.ok, f"{result.why}\n{logs}"
        assert result.path == "lan", logs
        # The client reached the server's LAN address, not the router's
        # public one (203.0.113.11): it can have learnt it only from the
        # server's announcement, through the holepuncher. The server is
        # connected to the client's LAN address too.
        connected = re.search(r"connected to (\S+):\d+ after", log_of(log["client"]))
        assert connected and connected.group(1) == natlab.LAN_HOST["server"], logs
        assert f"CONNECTED {natlab.LAN_HOST['client']}:" in log_of(log["server"]), logs
