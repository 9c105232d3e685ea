"""Helpers of the metrics tests: scraping and parsing the page, raw
Register/Join frames (docs/PROTOCOL.md). Test files put this folder on
sys.path (pytest runs with --import-mode=importlib)."""
import http.client
import re
import socket
import struct
import time

REGISTER, JOIN, PEER_INFO, REGISTER_ACK, HELLO_REQ, HELLO_RESP = 2, 3, 4, 6, 8, 9
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def frame(kind, payload=b""):
    return struct.pack(">HH", 4 + len(payload), kind) + payload


class Page:
    """A parsed /metrics page: samples by (name, labels) and the families'
    HELP and TYPE lines."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.help, self.type = {}, {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, rest = line[7:].partition(" ")
                self.help[name] = rest
            elif line.startswith("# TYPE "):
                name, _, kind = line[7:].partition(" ")
                self.type[name] = kind
            elif line and not line.startswith("#"):
                m = SAMPLE.match(line)
                assert m, f"not a sample line: {line!r}"
                labels = frozenset(LABEL.findall(m.group(2) or ""))
                self.samples[(m.group(1), labels)] = float(m.group(3))

    def value(self, name, **labels):
        return self.samples[(name, frozenset(labels.items()))]

    def total(self, name, **labels):
        """The sum over every series of name whose labels include these."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= ls)

    def names(self):
        return {n for n, _ in self.samples}


def get(url, method="GET", path=None, source=None, timeout=5):
    """(status, headers, body) of one request to the metrics endpoint."""
    m = re.match(r"http://(\[[^\]]+\]|[^:/]+):(\d+)(/.*)", url)
    host, port = m.group(1).strip("[]"), int(m.group(2))
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path or m.group(3))
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def scrape(url, **kw):
    status, headers, body = get(url, **kw)
    assert status == 200, (status, body)
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return Page(body.decode())


def scrape_until(url, check, timeout=5.0):
    """Scrapes until check(page) is true (the workers' snapshots are up to
    200 ms old); returns that page, or fails with the last one."""
    end = time.monotonic() + timeout
    while True:
        page = scrape(url)
        if check(page):
            return page
        if time.monotonic() > end:
            raise AssertionError(f"never true: {page.text}")
        time.sleep(0.05)


class Udp:
    """A UDP socket speaking raw frames to a holepuncher."""

    def __init__(self, target, source="127.0.0.1", timeout=2.0):
        host, port = target.rsplit(":", 1)
        self.target = (host.strip("[]"), int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(timeout)

    def ask(self, kind, payload=b""):
        """Sends a frame and returns the type of the answer (None: none within
        the timeout)."""
        self.sock.sendto(frame(kind, payload), self.target)
        return self.receive()

    def receive(self):
        """The type of the next frame received (None: none within the timeout)."""
        try:
            return struct.unpack(">HH", self.sock.recv(2048)[:4])[1]
        except socket.timeout:
            return None

    def send(self, data):
        self.sock.sendto(data, self.target)

    def close(self):
        self.sock.close()
