"""The benchmark suite runs (a very short version): every part builds, runs
and reports. No speed is asserted; the machines are shared."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_smoke():
    result = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "run.py"), "--smoke",
                             "--python", sys.executable], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and
            not line.startswith("| measure")]
    assert len(rows) == 11, result.stdout
    for row in rows:  # every measure produced a number
        assert any(ch.isdigit() for ch in row.split("|")[2]), row
