#!/usr/bin/env python3
"""Where the holepuncher's time goes, per kind of request.

    python3 bench/profile.py [--sessions K] [--seconds S] [--top N]   # perf
    python3 bench/profile.py --callgrind [--sessions K] [--seconds S]
    ... [--hp PATH]   # a given hp_serve build instead (say, linked with a changed core)

perf (default): the holepuncher (hp_serve, core 0) under closed-loop load
(core 1), with K sessions in its table, sampled with perf's cpu-clock event
(no hardware counters needed): the share of its time in the kernel and in
user space, the top user-space functions and the top kernel functions.

--callgrind: the same loads against hp_serve running under valgrind's
callgrind with its cache simulator: user-space instructions and last-level
cache data misses per request, which unlike times repeat from run to run
(the kernel is not counted; use a smaller K, valgrind is ~50x slower).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from run import Server, hp_stats, pinned, table_room  # noqa: E402  (the same server and load)

# (mode, loadgen arguments after the table was filled with the owner's ids)
LL_CACHE = "33554432,16,64"  # 32 MiB, 16-way, 64-byte lines
KEEPALIVE_MS = 600000  # sessions live 30 minutes: none expires while profiling
MODES = (("hello", []), ("join", ["--no-fill"]), ("join-miss", []), ("register", []),
         ("refresh", None))  # refresh: its sockets register their own ids first


def build(out):
    core = glob.glob(os.path.join(ROOT, "core", "src", "*.c"))
    flags = ["-O2", "-g", "-fno-omit-frame-pointer", "-std=gnu11",
             "-I", os.path.join(ROOT, "core", "include")]
    for name, extra in (("hp_serve", core), ("loadgen", [])):
        subprocess.run(["cc", *flags, os.path.join(HERE, f"{name}.c"), *extra, "-lpthread",
                        "-o", os.path.join(out, name)], check=True)


class Loader:
    """loadgen in the background; filled() waits until the table is full."""

    def __init__(self, bin_dir, hp, port, mode, seconds, sessions, extra=()):
        self.proc = subprocess.Popen(pinned(1, [
            os.path.join(bin_dir, "loadgen"), "--target", f"127.0.0.1:{port}", "--mode", mode,
            "--seconds", str(seconds), "--warmup", "0", "--sessions", str(sessions),
            "--server-pid", str(hp.proc.pid), *extra]), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def filled(self):
        line = self.proc.stderr.readline()
        if not line.startswith("filled"):
            raise RuntimeError(f"loadgen: {line}{self.proc.stderr.read()}")
        return self

    def result(self):
        out, err = self.proc.communicate(timeout=3600)
        if self.proc.returncode != 0:
            raise RuntimeError(f"loadgen failed: {err}")
        return out.strip()


def perf_report(data, sort, extra=()):
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort,
                          "--stdio", "-g", "none", "--percent-limit", "0.5", *extra],
                         capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if re.match(r"\s*[\d.]+%", line)]


def profile_perf(bin_dir, hp, port, sessions, seconds, top):
    dso = os.path.basename(hp.proc.args[-4])
    for mode, extra in MODES:
        loader = Loader(bin_dir, hp, port, mode, seconds + 1.5,
                        sessions if extra is None or extra else 0, extra or [])
        loader.filled()
        time.sleep(0.5)
        data = os.path.join(bin_dir, f"perf-{mode}.data")
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-g",
                        "-p", str(hp.proc.pid), "-o", data, "--", "sleep", str(seconds)],
                       check=True, capture_output=True)
        print(f"\n## {mode}: {loader.result()}\n")
        for line in perf_report(data, "dso"):
            print("    " + line)
        print("  user space:")
        for line in perf_report(data, "sym", ["--dsos", dso])[:top]:
            print("    " + line)
        print("  kernel:")
        for line in perf_report(data, "sym", ["--dsos", "[kernel.kallsyms]"])[:top]:
            print("    " + line)


def callgrind_totals(dump):
    """{event: count} from the totals line of a callgrind dump."""
    events, totals = None, None
    with open(dump) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:") or line.startswith("summary:"):
                totals = [int(x) for x in line.split()[1:]]
    return dict(zip(events, totals))


def profile_callgrind(bin_dir, hp_serve, port, sessions, seconds):
    out = os.path.join(bin_dir, "cg.out")
    # The last-level cache of this machine (the simulator reads nonsense from
    # the VM's cpuid); long-lived sessions: filling the table takes a while.
    argv = ["valgrind", "-q", "--tool=callgrind", "--cache-sim=yes", f"--LL={LL_CACHE}",
            f"--callgrind-out-file={out}", hp_serve, f"127.0.0.1:{port}", str(sessions * 4),
            str(KEEPALIVE_MS)]
    with Server(argv) as hp:
        Loader(bin_dir, hp, port, "join", 0.1, sessions).result()  # fills the table
        print("| request | user-space instructions | LL data misses | datagrams out |")
        print("|---|---|---|---|")
        for mode, extra in MODES:
            loader = Loader(bin_dir, hp, port, mode, seconds,
                            sessions if extra is None or extra else 0, extra or [])
            loader.filled()
            subprocess.run(["callgrind_control", "-z", str(hp.proc.pid)], check=True,
                           capture_output=True)
            before = hp_stats(hp)
            loader.result()
            after = hp_stats(hp)
            subprocess.run(["callgrind_control", "-d", str(hp.proc.pid)], check=True,
                           capture_output=True)
            dumps = sorted(glob.glob(out + "*"), key=os.path.getmtime)
            t = callgrind_totals(dumps[-1])
            rx = max(after["rx"] - before["rx"], 1)
            misses = t.get("DLmr", 0) + t.get("DLmw", 0)
            print(f"| {mode} | {t['Ir'] / rx:,.0f} | {misses / rx:.2f} | "
                  f"{(after['tx'] - before['tx']) / rx:.2f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--hp", help="profile this hp_serve build (e.g. linked with a changed core)")
    args = ap.parse_args()
    port = 30000 + os.getpid() % 2000
    with tempfile.TemporaryDirectory() as bin_dir:
        build(bin_dir)
        hp_serve = os.path.abspath(args.hp) if args.hp else os.path.join(bin_dir, "hp_serve")
        if args.callgrind:
            profile_callgrind(bin_dir, hp_serve, port, args.sessions or 100000, args.seconds)
            return 0
        sessions = args.sessions or 1000000
        # The register mode runs seconds + 1.5; its new ids must leave room
        # for the refresh mode's own after it.
        room = table_room(sessions, args.seconds + 1.5)
        with Server([hp_serve, f"127.0.0.1:{port}", str(room), str(KEEPALIVE_MS)]) as hp:
            Loader(bin_dir, hp, port, "join", 0.1, sessions).result()  # fills the table
            profile_perf(bin_dir, hp, port, sessions, args.seconds, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
