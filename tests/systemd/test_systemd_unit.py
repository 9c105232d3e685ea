"""The holepuncher's systemd unit (packaging/systemd): installed by CMake
with the program's installed path, accepted by `systemd-analyze verify`
and rated by `systemd-analyze security` offline (no running manager is
needed: this machine may not run systemd as PID 1), its environment file's
options run, and the program stays within the unit's sandbox: under
strace, every system call it makes is one the unit's SystemCallFilter
lets through, its sockets are of the families RestrictAddressFamilies
allows, it maps no memory both writable and executable
(MemoryDenyWriteExecute) and opens no file for writing (ProtectSystem=strict)."""
import glob
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "metrics"))
from metricslib import JOIN, PEER_INFO, REGISTER, REGISTER_ACK, Udp, scrape_until  # noqa: E402

UNIT = "ruphin-holepuncher.service"
# What `systemd-analyze security` holds against any network service: it
# runs in the host's root and network, and takes addresses from anywhere.
INHERENT = {"RootDirectory=/RootImage=", "RestrictAddressFamilies=~AF_(INET|INET6)",
            "PrivateNetwork=", "IPAddressDeny=",
            "DeviceAllow="}  # ProtectClock=yes's own char-rtc:r


def cache_value(build_dir, name):
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        m = re.search(rf"^{name}:[A-Z]+=(.*)$", f.read(), re.M)
    return m.group(1)


@pytest.fixture(scope="module")
def analyze(tool_path):
    return tool_path("systemd-analyze", "systemd")


@pytest.fixture(scope="module")
def installed(build_dir, tmp_path_factory):
    """`cmake --install` of the build into a root folder (DESTDIR), with the
    system's own units beside it (verify wants the targets it names).
    Returns (root, the unit's path inside the root, the unit's text)."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["cmake", "--install", build_dir], env={**os.environ, "DESTDIR": str(root)},
                   check=True, capture_output=True, timeout=120)
    units = glob.glob(str(root / "**" / UNIT), recursive=True)
    assert len(units) == 1, units
    for system_units in ("/lib/systemd/system", "/usr/lib/systemd/system"):
        if os.path.isdir(system_units):
            shutil.copytree(system_units, str(root) + system_units, dirs_exist_ok=True,
                            symlinks=True)
            break
    unit = "/" + os.path.relpath(units[0], root)
    with open(units[0]) as f:
        return root, unit, f.read()


def directive(text, key):
    """Every value of key= in the unit, in order."""
    return re.findall(rf"^{key}=(.*)$", text, re.M)


def test_the_unit_is_installed_with_the_installed_program(build_dir, installed):
    root, unit, text = installed
    prefix = cache_value(build_dir, "CMAKE_INSTALL_PREFIX")
    assert unit == f"{prefix}/lib/systemd/system/{UNIT}"  # RUPHIN_SYSTEMD_UNITDIR's default
    exec_start = directive(text, "ExecStart")
    assert len(exec_start) == 1
    program = exec_start[0].split()[0]
    assert program == f"{prefix}/{cache_value(build_dir, 'CMAKE_INSTALL_BINDIR')}/ruphin"
    assert os.access(str(root) + program, os.X_OK)
    assert exec_start[0].split()[1:] == ["holepuncher", "$RUPHIN_HOLEPUNCHER_OPTS"]
    env_file = directive(text, "EnvironmentFile")[0]
    assert env_file.startswith("-/")  # optional: without it, the defaults
    assert os.path.isfile(str(root) + env_file[1:])
    assert "@" not in text.replace("@system-service", "").replace("@privileged", "") \
                          .replace("@resources", "")  # every @VAR@ was configured
    for key, value in [("DynamicUser", "yes"), ("CapabilityBoundingSet", ""),
                       ("AmbientCapabilities", ""), ("NoNewPrivileges", "yes"),
                       ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                       ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                       ("RestrictAddressFamilies", "AF_INET AF_INET6"),
                       ("MemoryDenyWriteExecute", "yes"), ("Restart", "on-failure")]:
        assert directive(text, key) == [value], key
    assert directive(text, "SystemCallFilter")[0] == "@system-service"


def test_a_reinstall_keeps_the_options_file(build_dir, installed, tmp_path):
    """The options file is the administrator's once installed: a second
    `cmake --install` leaves an edited one as it is (the unit is updated)."""
    _, _, text = installed
    env_file = directive(text, "EnvironmentFile")[0].lstrip("-")
    env = {**os.environ, "DESTDIR": str(tmp_path)}
    subprocess.run(["cmake", "--install", build_dir], env=env, check=True, capture_output=True,
                   timeout=120)
    edited = 'RUPHIN_HOLEPUNCHER_OPTS="--listen 127.0.0.1:47470 --quiet"\n'
    with open(str(tmp_path) + env_file, "w") as f:
        f.write(edited)
    result = subprocess.run(["cmake", "--install", build_dir], env=env, check=True,
                            capture_output=True, text=True, timeout=120)
    assert f"Kept: {tmp_path}{env_file}" in result.stdout
    with open(str(tmp_path) + env_file) as f:
        assert f.read() == edited


def test_systemd_analyze_verify_accepts_the_unit(analyze, installed, tmp_path):
    """No error and no warning (verify exits 0 on a directive it ignores,
    so its output must be empty too): a unit with a mistake does show one."""
    root, unit, text = installed
    result = subprocess.run([analyze, "verify", f"--root={root}", unit], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""
    broken = os.path.join(os.path.dirname(unit), "ruphin-broken.service")
    with open(str(root) + broken, "w") as f:
        f.write(text.replace("ProtectHome=yes", "ProtectHome=perhaps"))
    try:
        result = subprocess.run([analyze, "verify", f"--root={root}", broken],
                                capture_output=True, text=True, timeout=60)
        assert "ProtectHome" in result.stdout + result.stderr or "protect home" in \
            (result.stdout + result.stderr).lower()
    finally:
        os.unlink(str(root) + broken)


def test_systemd_analyze_security_rates_it_ok(analyze, installed):
    """Offline (no running manager): exposure 1.5 at most ("OK"), and every
    check passes but those no network service can pass."""
    root, unit, _ = installed
    result = subprocess.run([analyze, "security", "--offline=yes", f"--root={root}",
                             "--threshold=15", unit], capture_output=True, text=True,
                            timeout=60)
    if "Unknown command verb" in result.stderr or "unrecognized option" in result.stderr:
        pytest.skip("this systemd-analyze cannot rate a unit offline (systemd < 250)")
    assert result.returncode == 0, result.stdout + result.stderr
    level = float(re.search(r"Overall exposure level for \S+: ([0-9.]+) ", result.stdout)
                  .group(1))
    assert level <= 1.5
    result = subprocess.run([analyze, "security", "--offline=yes", f"--root={root}",
                             "--json=short", unit], capture_output=True, text=True, timeout=60)
    failed = {c["name"] for c in json.loads(result.stdout) if not c["set"]}
    assert failed <= INHERENT, failed - INHERENT


def env_file_options(root, text):
    """RUPHIN_HOLEPUNCHER_OPTS as the unit gives it: from the environment
    file (a shell-like KEY="value" line), split on white space as systemd
    splits an unbraced $VAR."""
    env_file = str(root) + directive(text, "EnvironmentFile")[0].lstrip("-")
    with open(env_file) as f:
        for line in f:
            if line.startswith("RUPHIN_HOLEPUNCHER_OPTS="):
                return shlex.split(line.split("=", 1)[1])[0].split()
    raise AssertionError("the environment file sets no RUPHIN_HOLEPUNCHER_OPTS")


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_environment_file_s_options_run(installed, spawn):
    """The installed program with the shipped options (the addresses moved
    to free loopback ports: a later option wins) serves, has metrics, and
    stops on SIGTERM (the unit's KillSignal) with exit 0, so that
    Restart=on-failure does not restart a stopped service."""
    root, _, text = installed
    options = env_file_options(root, text)
    assert "--listen" in options and "--metrics" in options
    program = str(root) + directive(text, "ExecStart")[0].split()[0]
    udp, tcp = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    proc = spawn(program, "holepuncher", *options, "--listen", f"127.0.0.1:{udp}",
                 "--metrics", f"127.0.0.1:{tcp}")
    proc.wait_for("listening")
    udp_sock = Udp(f"127.0.0.1:{udp}")
    try:
        assert udp_sock.ask(REGISTER, b"from-the-unit") == REGISTER_ACK
    finally:
        udp_sock.close()
    scrape_until(f"http://127.0.0.1:{tcp}/metrics", lambda p: p.value("ruphin_sessions") == 1)
    assert proc.stop(signal.SIGTERM) == 0


def syscall_filter(analyze, text):
    """The system calls the unit's SystemCallFilter= lines let through:
    each allow list's groups expanded (systemd-analyze syscall-filter), less
    every ~ deny list."""
    listing = subprocess.run([analyze, "syscall-filter"], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    groups, current = {}, None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
        elif not line.strip():
            current = None

    def expand(names):
        out = set()
        for name in names:
            out |= expand(groups[name]) if name.startswith("@") else {name}
        return out
    allowed, denied = set(), set()
    for value in directive(text, "SystemCallFilter"):
        if value.startswith("~"):
            denied |= expand(value[1:].split())
        else:
            allowed |= expand(value.split())
    return (allowed | expand(["@default"])) - denied


def test_the_program_stays_within_the_unit_s_sandbox(analyze, installed, tmp_path, tool_missing):
    """Two workers, metrics scraped, sessions registered and joined, a
    SIGTERM: every system call of the process and its threads (strace -f)
    passes the unit's filter; sockets only of its address families; no
    memory both writable and executable; no file opened for writing."""
    if shutil.which("strace") is None:
        tool_missing("strace is not installed (Debian: strace)")
    root, _, text = installed
    program = str(root) + directive(text, "ExecStart")[0].split()[0]
    udp, tcp = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    trace = tmp_path / "trace"
    log = open(tmp_path / "log", "w")
    proc = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace), program, "holepuncher",
                             *env_file_options(root, text), "--listen", f"[::]:{udp}",
                             "--metrics", f"127.0.0.1:{tcp}", "--workers", "2",
                             "--no-amplification", "1"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            # LeakSanitizer (a sanitizer build) cannot work under ptrace.
                            env={**os.environ, "ASAN_OPTIONS": ":".join(filter(None, [
                                os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))})
    try:
        end = time.monotonic() + 20
        while "listening" not in (tmp_path / "log").read_text():
            assert time.monotonic() < end and proc.poll() is None, (tmp_path / "log").read_text()
            time.sleep(0.05)
        owner, joiner = Udp(f"127.0.0.1:{udp}"), Udp(f"127.0.0.1:{udp}")
        try:
            for i in range(20):
                assert owner.ask(REGISTER, f"sandboxed-{i}".encode()) == REGISTER_ACK
            for i in range(20):
                assert joiner.ask(JOIN, f"sandboxed-{i}".encode()) == PEER_INFO
        finally:
            owner.close()
            joiner.close()
        scrape_until(f"http://127.0.0.1:{tcp}/metrics",
                     lambda p: p.total("ruphin_sessions") == 20)
        # The traced program's pid: strace's only child.
        child = int(open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()[0])
        os.kill(child, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    lines = trace.read_text().splitlines()
    calls = {m.group(1) for m in (re.match(r"^\d+ +([a-z0-9_]+)\(", line) for line in lines)
             if m}
    assert {"recvmmsg", "sendmmsg", "accept4", "clone3"} & calls  # it traced the real thing
    assert calls - {"execve"} <= syscall_filter(analyze, text), \
        calls - syscall_filter(analyze, text)
    families = set(directive(text, "RestrictAddressFamilies")[0].split())
    used = set(re.findall(r"\bsocket(?:pair)?\((AF_[A-Z0-9]+)", trace.read_text()))
    assert used and used <= families, used
    for line in lines:
        if re.search(r"\b(mmap|mprotect|pkey_mprotect)\(", line):
            assert not ("PROT_WRITE" in line and "PROT_EXEC" in line), line
        if re.search(r"\bopen(at)?\(", line):
            assert not re.search(r"O_WRONLY|O_RDWR|O_CREAT", line), line
