"""The fuzz targets' inputs replayed (fuzz/replay.c) through a Linux build and
a Windows build (MinGW-w64, run under Wine) of the same sources: neither
crashes or breaks an invariant, and every input gets the same verdict from
both (the decoder's answer; what a state machine sent, reported and counted)."""
import os
import random
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MINGW_CC = "x86_64-w64-mingw32-gcc"
# As tests/fuzz/test_fuzz.py builds the fuzzers (test files cannot import it).
TARGETS = ["wire", "holepuncher", "server", "client"]
SMALL_TABLES = ["-DRP_RATE_SLOTS=64", "-DRP_RELAYS=16"]
MACHINE_SOURCES = ["wire", "machine", "options", "holepuncher", "server", "client",
                   "sessions", "bigarray", "peers", "addr", "ratelimit", "seal", "siphash"]
MUTANTS = 2000


def build_replay(cc, target, exe, libs=()):
    src = os.path.join(ROOT, "core", "src")
    cmd = [cc, "-O1", "-Wall", *SMALL_TABLES, f'-DRUPHIN_FUZZ_TARGET="fuzz_{target}.c"',
           "-I", os.path.join(ROOT, "core", "include"), "-I", src,
           os.path.join(ROOT, "fuzz", "replay.c"),
           *[os.path.join(src, f"{name}.c") for name in MACHINE_SOURCES], "-o", str(exe), *libs]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return exe


def write_inputs(target, folder):
    """The target's seeds, and mutants of them (bytes changed, cut, spliced;
    the same ones every run) for the paths that reject or stray."""
    seeds_dir = os.path.join(ROOT, "fuzz", "seeds", target)
    shutil.copytree(seeds_dir, folder)
    seeds = []
    for name in sorted(os.listdir(seeds_dir)):
        with open(os.path.join(seeds_dir, name), "rb") as f:
            seeds.append(f.read())
    rng = random.Random(target)
    for i in range(MUTANTS):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[:rng.randint(0, len(data))]
        if rng.random() < 0.3:
            other = rng.choice(seeds)
            data += other[rng.randint(0, len(other)):]
        (folder / f"mutant{i:04d}").write_bytes(bytes(data))
    return len(seeds) + MUTANTS


@pytest.mark.parametrize("target", TARGETS)
def test_windows_replay_matches_linux(target, wine, tmp_path, tool_missing):
    if shutil.which(MINGW_CC) is None:
        tool_missing("MinGW-w64 is not installed (Debian: gcc-mingw-w64-x86-64)")
    if shutil.which("gcc") is None:
        tool_missing("gcc is not installed")
    linux = build_replay("gcc", target, tmp_path / "replay")
    # ws2_32: addr.c's inet_pton and inet_ntop.
    windows = build_replay(MINGW_CC, target, tmp_path / "replay.exe", ["-lws2_32"])
    count = write_inputs(target, tmp_path / "inputs")

    # The same relative folder for both, so that the names printed match.
    native = subprocess.run([str(linux), "inputs"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert native.returncode == 0, native.stderr[-4000:]
    emulated = wine.run(windows, "inputs", cwd=tmp_path, timeout=300)
    assert emulated.returncode == 0, emulated.stderr[-4000:]

    linux_lines = native.stdout.splitlines()
    windows_lines = emulated.stdout.splitlines()
    assert len(linux_lines) == count
    differing = [(a, b) for a, b in zip(linux_lines, windows_lines) if a != b]
    assert not differing and len(windows_lines) == count, \
        f"{len(differing)} verdicts differ; first (Linux, Windows): {differing[:3]}"
