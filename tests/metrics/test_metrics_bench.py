"""bench/metrics_cost.py runs (one short round) and reports a ratio per
row. No speed is asserted: the machines are shared."""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_metrics_cost_benchmark_runs(tmp_path, metrics_bin):
    out = tmp_path / "cost.json"
    result = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "metrics_cost.py"),
                             "--smoke", "--json", str(out)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"hello-quiet", "register-quiet", "register-logging"}
    for row in rows.values():
        assert row["rate_ratio"] > 0 and row["cpu_ratio"] > 0
        assert row["scrapes"] > 0 and row["scrape_failures"] == 0
        assert row["rate_off"] > 0 and row["rate_on"] > 0
    assert "| HelloReq, --quiet |" in result.stdout
