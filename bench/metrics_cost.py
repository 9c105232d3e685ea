#!/usr/bin/env python3
"""What `ruphin holepuncher --metrics` costs the request path: the program
under bench/loadgen.c's closed-loop load, with and without --metrics (and,
with it, its page scraped every --scrape-ms, 100 by default, as a
Prometheus scraping far more often than any would), measured in the same
run, each round in the other order, a fresh holepuncher each measure.

    python3 bench/metrics_cost.py [--smoke] [--seconds S] [--rounds R]
                                  [--scrape-ms MS] [--json FILE]

Rows: HelloReq (the cheapest request: any cost per request shows most),
Register (new ids) quiet, and Register logging every session to
/dev/null (where the workers copy their counters after every batch of
events instead of every 200 ms). Each row gives the median over rounds of
the ratio of requests answered per second with metrics to without, and of
the server's CPU time per request; 1.00 is no cost. Absolute rates are
printed for reference only: the machines are shared and they drift, which
is why only ratios of measures in the same round are compared. Server on
core 0, load and scraper on core 1 (bench/run.py's pinning and loadgen);
needs libmicrohttpd (Debian: libmicrohttpd-dev). --smoke: one short round
(CI checks the script runs; no speed is asserted anywhere).
"""
import argparse
import glob
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run  # noqa: E402  (the suite's loadgen driver, pinning and table sizing)

ROWS = (("hello", True), ("register", True), ("register", False))  # (mode, quiet)


def build(out):
    """loadgen, and the program with libmicrohttpd, with cc -O2 as run.py builds."""
    inc = os.path.join(ROOT, "core", "include")
    subprocess.run(["cc", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", inc,
                    "-I", HERE, os.path.join(HERE, "loadgen.c"), "-lpthread",
                    "-o", os.path.join(out, "loadgen")], check=True)
    subprocess.run(["cc", "-O2", "-std=gnu11", "-DRUPHIN_WITH_MICROHTTPD", "-I", inc,
                    *glob.glob(os.path.join(ROOT, "cli", "*.c")),
                    *glob.glob(os.path.join(ROOT, "core", "src", "*.c")),
                    "-lmicrohttpd", "-lpthread", "-o", os.path.join(out, "ruphin")], check=True)


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scraper(threading.Thread):
    """GET /metrics every interval (a new connection each, as Prometheus'
    default keep-alive would not change the server's work much) until
    stopped; counts the pages and the failures."""

    def __init__(self, port, interval):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.pages, self.failures, self.stopping = 0, 0, threading.Event()

    def run(self):
        while not self.stopping.wait(self.interval):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                body = r.read()
                if r.status == 200 and b"ruphin_sessions" in body:
                    self.pages += 1
                else:
                    self.failures += 1
            except OSError:
                self.failures += 1
            finally:
                conn.close()

    def stop(self):
        self.stopping.set()
        self.join()


def measure(bin_dir, port, mode, quiet, metrics, seconds, scrape_s):
    """One loadgen run against a fresh holepuncher; its JSON result, with
    the scraper's counts when metrics."""
    room = run.table_room(0, seconds)
    metrics_port = free_tcp_port() if metrics else None
    extra = ["--metrics", f"127.0.0.1:{metrics_port}"] if metrics_port else []
    with run.Daemon(bin_dir, port, room, quiet, extra) as hp:
        scraper = Scraper(metrics_port, scrape_s) if metrics else None
        if scraper:
            scraper.start()
        try:
            result = run.load(bin_dir, hp, port, mode, seconds)
        finally:
            if scraper:
                scraper.stop()
        if scraper:
            result["scrapes"], result["scrape_failures"] = scraper.pages, scraper.failures
    return result


def rows(bin_dir, seconds, rounds, scrape_s):
    """Every row's measures, on and off, each round in the other order."""
    runs = {row: [] for row in ROWS}
    for r in range(rounds):
        for i, (mode, quiet) in enumerate(ROWS):
            port = run.BASE_PORT + 1 + 2 * i  # and the next one, with metrics
            pair = {}
            for metrics in ((False, True) if r % 2 == 0 else (True, False)):
                pair[metrics] = measure(bin_dir, port + metrics, mode, quiet, metrics, seconds,
                                        scrape_s)
            runs[(mode, quiet)].append({
                "off": pair[False], "on": pair[True],
                "rate_ratio": pair[True]["rate"] / max(pair[False]["rate"], 1),
                "cpu_ratio": pair[True]["cpu_us"] / max(pair[False]["cpu_us"], 1e-9)})
    return runs


def summary(runs):
    out = {}
    for (mode, quiet), rounds in runs.items():
        out[f"{mode}-{'quiet' if quiet else 'logging'}"] = {
            "rate_ratio": statistics.median(x["rate_ratio"] for x in rounds),
            "rate_ratios": [x["rate_ratio"] for x in rounds],
            "cpu_ratio": statistics.median(x["cpu_ratio"] for x in rounds),
            "cpu_ratios": [x["cpu_ratio"] for x in rounds],
            "rate_off": statistics.median(x["off"]["rate"] for x in rounds),
            "rate_on": statistics.median(x["on"]["rate"] for x in rounds),
            "scrapes": sum(x["on"]["scrapes"] for x in rounds),
            "scrape_failures": sum(x["on"]["scrape_failures"] for x in rounds),
            "rounds": rounds}
    return out


def table(res, scrape_ms):
    lines = [f"| request (ruphin holepuncher) | req/s without --metrics | with, scraped every "
             f"{scrape_ms} ms | rate ratio (median, per round) | CPU/request ratio | scrapes |",
             "|---|---|---|---|---|---|"]
    names = {"hello-quiet": "HelloReq, --quiet", "register-quiet": "Register (new ids), --quiet",
             "register-logging": "Register (new ids), logging to /dev/null"}
    for key, row in res.items():
        per_round = " ".join(f"{x:.2f}" for x in row["rate_ratios"])
        lines.append(f"| {names[key]} | {row['rate_off']:,.0f} | {row['rate_on']:,.0f} | "
                     f"{row['rate_ratio']:.3f} ({per_round}) | {row['cpu_ratio']:.3f} | "
                     f"{row['scrapes']} ({row['scrape_failures']} failed) |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="one short round")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scrape-ms", type=int, default=100)
    ap.add_argument("--json", help="also write every measurement to this file")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.rounds = 0.3, 1
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the scraper beside the load, not on the server's core
    with tempfile.TemporaryDirectory() as bin_dir:
        build(bin_dir)
        res = summary(rows(bin_dir, args.seconds, args.rounds, args.scrape_ms / 1000))
    print(table(res, args.scrape_ms))
    print(f"\n{args.rounds} round(s) of {args.seconds} s per measure; load average "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
