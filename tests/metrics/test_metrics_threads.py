"""The metrics page is made on libmicrohttpd's thread while the workers
poll on theirs: ThreadSanitizer must find no data race between them (the
HTTP thread reads only the workers' snapshots, never a node)."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metricslib import JOIN, PEER_INFO, REGISTER, REGISTER_ACK, Udp, scrape  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def tsan_ruphin(tmp_path_factory, metrics_bin, tool_missing):
    clang = shutil.which("clang")
    if clang is None:
        tool_missing("clang is not installed (scripts/test.sh installs it)")
    exe = str(tmp_path_factory.mktemp("tsan") / "ruphin")
    subprocess.run([clang, "-std=c11", "-g", "-O1", "-fsanitize=thread",
                    "-DRUPHIN_WITH_MICROHTTPD", "-I", os.path.join(ROOT, "core", "include"),
                    *glob.glob(os.path.join(ROOT, "cli", "*.c")),
                    *glob.glob(os.path.join(ROOT, "core", "src", "*.c")),
                    "-lmicrohttpd", "-lpthread", "-o", exe],
                   check=True, capture_output=True, timeout=600)
    return exe


def test_scrapes_race_nothing_under_thread_sanitizer(tsan_ruphin, tmp_path, free_udp_port):
    """Two workers logging every session (a snapshot after every batch)
    while clients register and join and the page is scraped without pause."""
    hp = f"127.0.0.1:{free_udp_port()}"
    log_path = tmp_path / "holepuncher.log"
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # no ASan runtime here
    env["TSAN_OPTIONS"] = "halt_on_error=1 exitcode=66"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([tsan_ruphin, "holepuncher", "--listen", hp, "--metrics",
                                 "127.0.0.1:0", "--workers", "2", "--no-amplification", "1",
                                 "--rate-limit", "0"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        end = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < end and proc.poll() is None:
            m = re.search(r"metrics at (http://\S+)", log_path.read_text())
            if m and "listening" in log_path.read_text():
                url = m.group(1)
            time.sleep(0.05)
        assert url, log_path.read_text()
        registered = []

        def clients():
            owner, joiner = Udp(hp), Udp(hp)
            try:
                for i in range(400):
                    ident = f"raced-session-{i}".encode()
                    if owner.ask(REGISTER, ident) == REGISTER_ACK:
                        registered.append(ident)
                for ident in registered:  # (the owner's socket gets a PeerInfo too)
                    assert joiner.ask(JOIN, ident) == PEER_INFO
            finally:
                owner.close()
                joiner.close()
        load = threading.Thread(target=clients)
        load.start()
        scrapes = 0
        while load.is_alive() or scrapes < 20:
            scrape(url)
            scrapes += 1
        load.join()
        time.sleep(0.3)  # a last snapshot of each worker
        page = scrape(url)
        assert page.total("ruphin_sessions") == len(registered) == 400
        assert page.total("ruphin_session_events_total", event="joined") == 400
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log_path.read_text()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "ThreadSanitizer" not in log_path.read_text()
