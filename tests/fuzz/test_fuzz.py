"""Runs each libFuzzer target briefly from its seed corpus (CI smoke; the long
campaign is documented in fuzz/README.md). A crash or an invariant violation
fails the test with libFuzzer's report."""
import glob
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = ["wire", "holepuncher", "server", "client"]
SECONDS = int(os.environ.get("RUPHIN_FUZZ_SECONDS", "8"))
# Every input builds a fresh holepuncher: with the full rate-limit and relay
# tables (1 MiB, zeroed) that made 360 inputs/s; with these, 33,000.
SMALL_TABLES = ["-DRP_RATE_SLOTS=64", "-DRP_RELAYS=16"]
MACHINE_SOURCES = ["wire", "machine", "options", "holepuncher", "server", "client",
                   "sessions", "bigarray", "peers", "addr", "ratelimit", "seal", "siphash"]


@pytest.fixture(scope="module")
def fuzz_build(tmp_path_factory):
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang is not installed (scripts/test.sh installs it)")
    out = tmp_path_factory.mktemp("fuzz")
    sources = [os.path.join(ROOT, "core", "src", f"{name}.c") for name in MACHINE_SOURCES]
    for target in TARGETS:
        cmd = [clang, "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
               "-fno-sanitize-recover=all", *SMALL_TABLES, "-I", os.path.join(ROOT, "core", "include"),
               "-I", os.path.join(ROOT, "core", "src"),
               os.path.join(ROOT, "fuzz", f"fuzz_{target}.c"), *sources,
               "-o", str(out / f"fuzz_{target}")]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_runs_clean(fuzz_build, tmp_path, target):
    corpus = tmp_path / "corpus"
    shutil.copytree(os.path.join(ROOT, "fuzz", "seeds", target), corpus)
    seeds = len(glob.glob(str(corpus / "*")))
    assert seeds > 0
    result = subprocess.run(
        [str(fuzz_build / f"fuzz_{target}"), f"-max_total_time={SECONDS}",
         "-print_final_stats=1", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=SECONDS + 120)
    assert result.returncode == 0, result.stderr[-4000:]
    executed = int(re.search(r"stat::number_of_executed_units:\s*(\d+)", result.stderr).group(1))
    assert executed > 1000, result.stderr[-2000:]
