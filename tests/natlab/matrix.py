#!/usr/bin/env python3
"""Runs ruphin through the NAT lab: every pair of NAT kinds (server behind
one, client behind the other), N trials each, at a chosen one-way delay and
loss, and prints a markdown table of success rate and median time from the
client's start to its first echoed datagram. Needs root.

    python3 tests/natlab/matrix.py [--trials 20] [--delay-ms 20] [--loss 0.05]
                                   [--pairs all|ci|KIND:KIND,...] [--ruphin build/ruphin]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HP = f"{natlab.HP_ADDR}:47470"
# What CI runs: pairs the current punching passes, a few minutes at most.
CI_PAIRS = [("public", "public"), ("fullcone", "restricted"), ("restricted", "restricted"),
            ("double", "restricted"), ("samenat", "samenat"), ("symmetric", "public")]


def all_pairs():
    pairs = [(s, c) for s in natlab.KINDS for c in natlab.KINDS]
    return pairs + [("samenat", "samenat")]


def wait_line(stream, text, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = stream.readline()
        if text in line:
            return True
        if not line:
            time.sleep(0.01)
    return False


def trial(ruphin, server_kind, client_kind, delay_ms, loss, helper_dir, count=3):
    """One connection attempt in a fresh lab: (connected and echoed, ms to first echo)."""
    with natlab.Lab(server_kind, client_kind, delay_ms, loss, helper_dir) as lab:
        hp = lab.popen("holepuncher", [ruphin, "holepuncher", "--listen", HP],
                       stderr=subprocess.PIPE, text=True)
        if not wait_line(hp.stderr, "listening", 5):
            raise RuntimeError("holepuncher did not start")
        server = lab.popen("server", [ruphin, "server", "-H", HP, "-s", "lab", "--echo"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not wait_line(server.stderr, "REGISTERED", 15):
            return False, None
        result = lab.run("client", [ruphin, "client", "-H", HP, "-s", "lab", "--count",
                                    str(count), "--timeout", "10"], timeout=30)
        m = re.search(r"first datagram back after (\d+) ms", result.stderr)
        return result.returncode == 0, (int(m.group(1)) if m else None)


def run_pairs(ruphin, pairs, trials, delay_ms, loss):
    rows = []
    with tempfile.TemporaryDirectory() as helper_dir:
        for server_kind, client_kind in pairs:
            results = [trial(ruphin, server_kind, client_kind, delay_ms, loss, helper_dir)
                       for _ in range(trials)]
            ok = [ms for success, ms in results if success]
            median = statistics.median([m for m in ok if m is not None]) if ok else None
            rows.append((server_kind, client_kind, len(ok), trials, median))
            print(f"{server_kind:>16} <- {client_kind:<16} {len(ok)}/{trials}"
                  f"  median {median} ms", file=sys.stderr, flush=True)
    return rows


def table(rows, delay_ms, loss):
    lines = [f"One-way delay {delay_ms} ms per edge, loss {loss:.0%} per edge.", "",
             "| server behind | client behind | connected | median ms to first echo |",
             "|---|---|---|---|"]
    for s, c, ok, n, median in rows:
        lines.append(f"| {s} | {c} | {ok}/{n} ({100 * ok / n:.0f}%) | "
                     f"{'-' if median is None else median} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--pairs", default="all")
    ap.add_argument("--ruphin", default=os.path.join(ROOT, "build", "ruphin"))
    args = ap.parse_args()
    why = natlab.available()
    if why:
        sys.exit(f"natlab: {why}")
    natlab.sweep_stale()
    if args.pairs == "all":
        pairs = all_pairs()
    elif args.pairs == "ci":
        pairs = CI_PAIRS
    else:
        pairs = [tuple(p.split(":")) for p in args.pairs.split(",")]
    rows = run_pairs(os.path.abspath(args.ruphin), pairs, args.trials, args.delay_ms, args.loss)
    print(table(rows, args.delay_ms, args.loss))


if __name__ == "__main__":
    main()
