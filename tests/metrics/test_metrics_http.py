"""ruphin holepuncher --metrics: the HTTP endpoint (only GET and HEAD of
/metrics; limits that keep slow or huge requests away from the UDP
service), its failures at start, and the build without libmicrohttpd."""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metricslib import REGISTER, REGISTER_ACK, Udp, get, scrape  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOT_BUILT_IN = "ruphin holepuncher: --metrics: not built in (needs libmicrohttpd)\n"


def address_of(url):
    m = re.match(r"http://([^:/]+):(\d+)/", url)
    return m.group(1), int(m.group(2))


def test_only_get_and_head_of_metrics(metrics_holepuncher):
    _, url, _ = metrics_holepuncher()
    status, headers, body = get(url, method="HEAD")
    assert status == 200 and body == b""
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["Content-Length"]) > 1000  # the page's, without the page
    for path in ("/", "/metrics/", "/metricsx", "/metrics/../metrics/x", "/favicon.ico"):
        status, _, _ = get(url, path=path)
        assert status == 404, path
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        status, headers, _ = get(url, method=method)
        assert status == 405, method
        assert headers["Allow"] == "GET, HEAD"
    assert "ruphin_sessions 0" in scrape(url).text.splitlines()
    # A request line over the connection's memory: 414, and closed.
    with socket.create_connection(address_of(url), timeout=5) as s:
        s.sendall(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 414 ")


def test_metrics_on_ipv6_loopback(metrics_holepuncher):
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    _, url, _ = metrics_holepuncher(metrics="[::1]:0")
    assert re.match(r"http://\[::1\]:\d+/metrics$", url)
    assert scrape(url).value("ruphin_sessions") == 0


def trace_sockets(metrics_bin, argv, tmp_path, tool_missing):
    """Runs the program under strace (socket and bind calls); returns
    (result, the trace)."""
    if shutil.which("strace") is None:
        tool_missing("strace is not installed (Debian: strace)")
    out = tmp_path / "trace"
    # LeakSanitizer (a sanitizer build) cannot work under ptrace.
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,bind", "-o", str(out),
                             metrics_bin, *argv], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL, env={**os.environ, "ASAN_OPTIONS": asan})
    return result, out.read_text()


def test_metrics_port_in_use_fails_before_any_udp_socket(metrics_bin, free_udp_port, tmp_path,
                                                         tool_missing):
    """A busy --metrics port: one line saying so, exit 1, and no UDP socket
    was ever made (the metrics' port is taken first)."""
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    udp = free_udp_port()
    try:
        argv = ["holepuncher", "--listen", f"127.0.0.1:{udp}", "--metrics", f"127.0.0.1:{port}"]
        result, trace = trace_sockets(metrics_bin, argv, tmp_path, tool_missing)
    finally:
        busy.close()
    assert result.returncode == 1
    assert result.stderr == \
        f"ruphin holepuncher: --metrics 127.0.0.1:{port}: Address already in use\n"
    assert "SOCK_STREAM" in trace
    assert "SOCK_DGRAM" not in trace


def test_udp_failure_stops_the_metrics_too(metrics_bin, run_process):
    """The UDP address cannot be had: exit 1 promptly, the metrics' port
    free again (nothing left serving)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    result = run_process([metrics_bin, "holepuncher", "--listen", "203.0.113.77:1",
                          "--metrics", f"127.0.0.1:{port}"], timeout=10)
    assert result.returncode == 1
    assert "203.0.113.77:1" in result.stderr and "listening" not in result.stderr
    assert time.monotonic() - start < 5
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1", "127.0.0.1:99999", ":9470"])
def test_bad_metrics_address_exits_2(metrics_bin, run_process, value):
    result = run_process([metrics_bin, "holepuncher", "--listen", "127.0.0.1:0",
                          "--metrics", value])
    assert result.returncode == 2
    assert result.stderr == f"ruphin holepuncher: --metrics {value}: not an ADDR:PORT " \
                            "(such as 127.0.0.1:9470 or [::1]:9470)\n"


class Registrar(threading.Thread):
    """Registers new sessions one after another over UDP for a while and
    keeps the longest wait for a RegisterAck (None: one never came)."""

    def __init__(self, hp, seconds):
        super().__init__(daemon=True)
        self.hp, self.seconds = hp, seconds
        self.done, self.worst, self.lost = 0, 0.0, 0

    def run(self):
        udp = Udp(self.hp)
        end = time.monotonic() + self.seconds
        try:
            while time.monotonic() < end:
                start = time.monotonic()
                if udp.ask(REGISTER, f"during-{self.done}".encode()) == REGISTER_ACK:
                    self.worst = max(self.worst, time.monotonic() - start)
                else:
                    self.lost += 1
                self.done += 1
                time.sleep(0.001)
        finally:
            udp.close()


def test_slow_and_huge_requests_do_not_stall_the_udp_service(metrics_holepuncher):
    """While connections that send half a request and then nothing, requests
    with a huge head, and a POST announcing a huge body hit the endpoint,
    clients keep registering over UDP: every Register is answered, promptly.
    One address cannot take every connection (the scrape from another gets
    in); heads over the memory limit are refused; idle connections are
    closed after the connection timeout (5 s); afterwards the endpoint
    serves that address again."""
    hp, url, proc = metrics_holepuncher("--no-amplification", "1", "--rate-limit", "0",
                                        "--quiet")  # nobody reads its log meanwhile
    host, port = address_of(url)
    registrar = Registrar(hp, seconds=4)
    registrar.start()
    slow = []
    try:
        for _ in range(100):  # the endpoint takes 8 from one address, 64 in all
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the end
            slow.append(s)
        # A head of 4 MiB: refused when it outgrows the connection's memory.
        huge_answers = []
        for _ in range(3):
            with socket.create_connection((host, port), source_address=("127.0.0.3", 0),
                                          timeout=5) as s:
                try:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 << 20))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                try:
                    huge_answers.append(s.recv(4096))
                except ConnectionResetError:
                    huge_answers.append(b"")
        # A head just over the limit: 431, and the connection closed.
        with socket.create_connection((host, port), source_address=("127.0.0.3", 0),
                                      timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
                      + b"\r\n\r\n")
            over_limit = s.recv(4096)
        # A body of a GiB announced, a little sent: answered at its head.
        with socket.create_connection((host, port), source_address=("127.0.0.4", 0),
                                      timeout=5) as s:
            s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n"
                      + b"z" * 65536)
            posted = s.recv(4096)
        # Another address still gets the page, at once.
        start = time.monotonic()
        page = scrape(url, source="127.0.0.2")
        scrape_time = time.monotonic() - start
        registrar.join(timeout=30)
    finally:
        registrar.join(timeout=30)
        open_at_end = []
        for s in slow:
            s.settimeout(0)
            try:
                open_at_end.append(s.recv(1) != b"")
            except BlockingIOError:
                open_at_end.append(True)
            except OSError:
                open_at_end.append(False)
    assert registrar.done > 50, registrar.done
    assert registrar.lost == 0
    assert registrar.worst < 2.0  # a stall would last the 5 s the slow ones are held
    assert all(a == b"" or re.match(rb"HTTP/1\.1 4\d\d ", a) for a in huge_answers), huge_answers
    assert over_limit.startswith(b"HTTP/1.1 431 ")
    assert posted.startswith(b"HTTP/1.1 405 ")
    assert scrape_time < 2 and page.value("ruphin_workers") == 1
    # Some of the slow ones were turned away at once (the limits), and those
    # held are closed by the endpoint once idle for its timeout.
    held = sum(open_at_end)
    assert 0 < held <= 8
    end = time.monotonic() + 10
    while time.monotonic() < end and held:
        time.sleep(0.5)
        held = 0
        for s in slow:
            try:
                held += s.recv(1) != b""
            except BlockingIOError:
                held += 1
            except OSError:
                pass
    assert held == 0
    for s in slow:
        s.close()
    assert scrape(url).value("ruphin_sessions") == registrar.done
    assert proc.proc.poll() is None


@pytest.fixture(scope="session")
def build_without_microhttpd(tmp_path_factory):
    """The program built with -DRUPHIN_MICROHTTPD=OFF."""
    out = tmp_path_factory.mktemp("no-microhttpd")
    subprocess.run(["cmake", "-S", ROOT, "-B", str(out), "-DRUPHIN_MICROHTTPD=OFF",
                    "-DRUPHIN_BUILD_TESTS=OFF"], check=True, capture_output=True, timeout=300)
    subprocess.run(["cmake", "--build", str(out), "-j2", "--target", "ruphin_cli"],
                   check=True, capture_output=True, timeout=600)
    return out


def test_without_microhttpd_metrics_is_not_built_in(build_without_microhttpd, run_process,
                                                   spawn, free_udp_port):
    """Built without libmicrohttpd: the program builds, --metrics exits 2
    with one line, and the holepuncher serves all the same without it."""
    ruphin = os.path.join(build_without_microhttpd, "ruphin")
    with open(os.path.join(build_without_microhttpd, "CMakeCache.txt")) as f:
        assert "RUPHIN_MICROHTTPD:STRING=OFF" in f.read()
    result = run_process([ruphin, "holepuncher", "--listen", "127.0.0.1:0",
                          "--metrics", "127.0.0.1:0"])
    assert result.returncode == 2
    assert result.stderr == NOT_BUILT_IN
    help_text = run_process([ruphin, "holepuncher", "--help"]).stdout
    assert "--metrics ADDR:PORT" in help_text and "not in this build" in help_text
    hp = f"127.0.0.1:{free_udp_port()}"
    proc = spawn(ruphin, "holepuncher", "--listen", hp)
    proc.wait_for("listening")
    udp = Udp(hp)
    try:
        assert udp.ask(REGISTER, b"without") == REGISTER_ACK
    finally:
        udp.close()
    assert proc.stop() == 0
    if shutil.which("readelf"):
        needed = subprocess.run(["readelf", "-d", ruphin], capture_output=True, text=True).stdout
        assert "libmicrohttpd" not in needed


def test_only_the_program_links_libmicrohttpd(build_dir, metrics_bin):
    """The program needs libmicrohttpd; the library never does."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf is missing")

    def needed(path):
        return subprocess.run(["readelf", "-d", path], capture_output=True, text=True,
                              check=True).stdout
    assert "libmicrohttpd" in needed(metrics_bin)
    assert "libmicrohttpd" not in needed(os.path.join(build_dir, "libruphin.so"))
    with open(os.path.join(build_dir, "ruphin.pc")) as f:
        assert "microhttpd" not in f.read()
