"""The metrics page with Prometheus' own tools (Debian's prometheus
package): promtool lints the page and the alerting rules, and a real
Prometheus server on loopback scrapes the holepuncher and answers a query."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metricslib import REGISTER, REGISTER_ACK, Udp, get, scrape_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RULES = os.path.join(ROOT, "packaging", "prometheus", "ruphin-alerts.yml")


@pytest.fixture(scope="module")
def promtool(tool_path):
    return tool_path("promtool", "prometheus")


@pytest.mark.parametrize("options", [
    ["--workers", "2", "--no-amplification", "1"],  # every family, worker labels
    ["--quiet"],  # one worker, no session events
])
def test_promtool_accepts_the_page(metrics_holepuncher, promtool, options, linux_extras):
    if "--workers" in options and not linux_extras:
        pytest.skip("socket groups need Linux's extras")
    hp, url, _ = metrics_holepuncher("--rate-limit", "0", *options)
    udp = Udp(hp)
    try:
        assert udp.ask(REGISTER, b"linted-session") == REGISTER_ACK
    finally:
        udp.close()
    page = scrape_until(url, lambda p: p.total("ruphin_sessions") == 1)
    result = subprocess.run([promtool, "check", "metrics"], input=page.text, text=True,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""  # not even a lint warning


def test_promtool_accepts_the_alerting_rules_and_their_unit_tests(promtool):
    result = subprocess.run([promtool, "check", "rules", RULES], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout
    result = subprocess.run([promtool, "test", "rules", "ruphin_alerts_test.yml"], cwd=HERE,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(api, expr):
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        answer = json.load(r)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_the_holepuncher(metrics_holepuncher, tmp_path, tool_missing):
    """A Prometheus server of its own (loopback, storage in a temporary
    folder, a scrape every 500 ms, the alerting rules loaded) scrapes the
    holepuncher; its query API gives back the sessions registered. Bounded
    in time; the server is killed after."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        tool_missing("prometheus is missing (Debian: prometheus)")
    hp, url, _ = metrics_holepuncher("--rate-limit", "0", "--no-amplification", "1")
    udp = Udp(hp)
    try:
        for ident in (b"scraped-1", b"scraped-2"):
            assert udp.ask(REGISTER, ident) == REGISTER_ACK
    finally:
        udp.close()
    target = url.split("/")[2]
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
  evaluation_interval: 500ms
rule_files:
  - {RULES}
scrape_configs:
  - job_name: ruphin
    static_configs:
      - targets: ['{target}']
""")
    port = free_tcp_port()
    api = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "prometheus.log", "w+")
    server = subprocess.Popen([prometheus, f"--config.file={config}",
                               f"--storage.tsdb.path={tmp_path / 'data'}",
                               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        end = time.monotonic() + 60
        sessions = up = []
        while time.monotonic() < end:
            assert server.poll() is None, "prometheus exited"
            try:
                sessions = query(api, "ruphin_sessions")
                up = query(api, 'up{job="ruphin"}')
            except OSError:  # not listening yet
                pass
            if sessions and up:
                break
            time.sleep(0.25)
        assert sessions, "prometheus never had ruphin_sessions"
        assert len(sessions) == 1
        assert sessions[0]["metric"]["job"] == "ruphin"
        assert sessions[0]["metric"]["instance"] == target
        assert sessions[0]["value"][1] == "2"
        assert up[0]["value"][1] == "1"
        version = query(api, "ruphin_build_info")[0]["metric"]["version"]
        status, _, body = get(url)
        assert f'ruphin_build_info{{version="{version}"}} 1' in body.decode()
        # The alerting rules loaded and evaluate without error, and none
        # fires on this healthy holepuncher.
        while True:
            with urllib.request.urlopen(f"{api}/api/v1/rules", timeout=5) as r:
                groups = json.load(r)["data"]["groups"]
            rules = [rule for g in groups for rule in g["rules"]]
            if all(rule["health"] == "ok" for rule in rules) or time.monotonic() > end:
                break
            time.sleep(0.25)
        assert len(rules) == 8
        assert all(rule["health"] == "ok" for rule in rules), rules
        assert all(rule["state"] == "inactive" for rule in rules), rules
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.seek(0)
        print(log.read())
        log.close()
