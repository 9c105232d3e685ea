"""Fixtures of the metrics tests: the program built with libmicrohttpd and
a holepuncher serving --metrics."""
import re

import pytest


@pytest.fixture(scope="session")
def metrics_bin(ruphin_bin, run_process, tool_missing):
    """The program, when it was built with libmicrohttpd."""
    result = run_process([ruphin_bin, "holepuncher", "--help"])
    if "not in this build" in result.stdout:
        tool_missing("this build has no --metrics (libmicrohttpd-dev was missing)")
    return ruphin_bin


@pytest.fixture
def metrics_holepuncher(spawn, metrics_bin, free_udp_port):
    """A function starting `ruphin holepuncher --metrics 127.0.0.1:0` (plus
    extra options) on a free UDP port; returns (udp address, metrics url, process)."""
    def start(*extra, metrics="127.0.0.1:0"):
        hp = f"127.0.0.1:{free_udp_port()}"
        proc = spawn(metrics_bin, "holepuncher", "--listen", hp, "--metrics", metrics, *extra)
        log = proc.wait_for("listening")
        url = re.search(r"metrics at (http://\S+)", log).group(1)
        return hp, url, proc
    return start
