#!/usr/bin/env python3
"""Runs the benchmark suite and prints a markdown table. Every holepuncher
figure is a ratio to the raw recvmmsg/sendmmsg baseline measured in the same
run, because absolute numbers drift on shared machines.

    python3 bench/run.py [--smoke] [--seconds S] [--sessions N] [--python PY]

--smoke runs each part for a fraction of a second (CI checks the suite runs;
it asserts no speed). Server and load are pinned to different cores.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build(out):
    """Compiles the benchmark programs with cc -O2 (the core from source)."""
    core = glob.glob(os.path.join(ROOT, "core", "src", "*.c"))
    inc = ["-I", os.path.join(ROOT, "core", "include")]
    progs = {"loadgen": [], "raw_echo": [], "hp_serve": core, "datapath": core}
    for name, extra in progs.items():
        subprocess.run(["cc", "-O2", "-std=gnu11", *inc, os.path.join(HERE, f"{name}.c"), *extra,
                        "-lpthread", "-o", os.path.join(out, name)], check=True)


def pinned(core, argv):
    return ["taskset", "-c", str(core), *argv] if os.cpu_count() and os.cpu_count() > 1 else argv


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    """A responder process (raw_echo or hp_serve) on core 0."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(pinned(0, argv), stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "READY"

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def load(bin_dir, port, mode, seconds, sessions=0):
    argv = [os.path.join(bin_dir, "loadgen"), "--target", f"127.0.0.1:{port}", "--mode", mode,
            "--seconds", str(seconds), "--warmup", str(min(0.5, seconds / 2)),
            "--sessions", str(sessions)]
    out = subprocess.run(pinned(1, argv), capture_output=True, text=True, check=True,
                         timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])["rate"]


def holepuncher_rates(bin_dir, seconds, sessions, rounds):
    """Raw baseline and each request type, interleaved over a few rounds."""
    rows = {"raw HelloReq": [], "HelloReq": [], "Register": [], "Join (found)": [],
            "Join (not found)": []}
    for r in range(rounds):
        raw = Server([os.path.join(bin_dir, "raw_echo"), "127.0.0.1", str(47800 + r)])
        rows["raw HelloReq"].append(load(bin_dir, 47800 + r, "hello", seconds))
        raw.close()
        hp = Server([os.path.join(bin_dir, "hp_serve"), f"127.0.0.1:{47810 + r}",
                     str(sessions * 2)])
        port = 47810 + r
        rows["Join (found)"].append(load(bin_dir, port, "join", seconds, sessions))  # fills it
        rows["HelloReq"].append(load(bin_dir, port, "hello", seconds))
        rows["Join (not found)"].append(load(bin_dir, port, "join-miss", seconds))
        rows["Register"].append(load(bin_dir, port, "register", seconds, sessions))
        hp.close()
    return {k: sorted(v)[len(v) // 2] for k, v in rows.items()}


def memory_per_session(bin_dir, sessions):
    """Resident bytes per live session after registering `sessions` 12-byte
    ids, and what is left after they expired."""
    hp = Server([os.path.join(bin_dir, "hp_serve"), "127.0.0.1:47830", str(sessions * 2),
                 "1000"])  # 1 s keepalive: sessions expire 3 s after the last refresh
    before = rss_kb(hp.proc.pid)
    subprocess.run(pinned(1, [os.path.join(bin_dir, "loadgen"), "--target", "127.0.0.1:47830",
                              "--mode", "hello", "--seconds", "0.1", "--warmup", "0",
                              "--sessions", str(sessions)]),
                   capture_output=True, check=True, timeout=600)
    full = rss_kb(hp.proc.pid)
    time.sleep(4.5)
    with socket_to(47830) as s:  # a datagram wakes it up to expire
        s.send(b"\x00\x04\x00\x08")
    time.sleep(0.5)
    after = rss_kb(hp.proc.pid)
    hp.close()
    return (full - before) * 1024 / sessions, (after - before) * 1024


def socket_to(port):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    return s


def datapath(bin_dir, seconds):
    rates = {}
    for size in (64, 1200):
        for mode in ("raw", "api"):
            out = subprocess.run([os.path.join(bin_dir, "datapath"), mode, str(size), str(seconds)],
                                 capture_output=True, text=True, check=True, timeout=120).stdout
            rates[(mode, size)] = json.loads(out)["rate"]
    return rates


def python_rates(python, seconds):
    rates = {}
    for mode in ("socket", "ruphin"):
        out = subprocess.run([python, os.path.join(HERE, "py_datapath.py"), mode, "64",
                              str(seconds)], capture_output=True, text=True, check=True,
                             timeout=120).stdout
        rates[mode] = json.loads(out)["rate"]
    return rates


def connect_time(python, trials):
    out = subprocess.run([python, os.path.join(HERE, "connect_time.py"), str(trials)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--sessions", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.sessions, args.rounds = 0.3, 20000, 1
    with tempfile.TemporaryDirectory() as bin_dir:
        build(bin_dir)
        hp = holepuncher_rates(bin_dir, args.seconds, args.sessions, args.rounds)
        per_session, left = memory_per_session(bin_dir, args.sessions)
        dp = datapath(bin_dir, args.seconds)
        py = python_rates(args.python, args.seconds)
        ttc = connect_time(args.python, 10 if args.smoke else 100)
    base = hp["raw HelloReq"]
    print(f"| measure | value | ratio |\n|---|---|---|")
    print(f"| raw baseline, HelloReq answered/s | {base:,.0f} | 1.00 |")
    for name in ("HelloReq", "Register", "Join (found)", "Join (not found)"):
        print(f"| holepuncher, {name}/s, {args.sessions:,} sessions | {hp[name]:,.0f} | "
              f"{hp[name] / base:.2f} x raw |")
    print(f"| resident memory per session ({args.sessions:,} x 12-byte ids) | "
          f"{per_session:.1f} B | |")
    print(f"| resident memory left after they expired | {left / 1024:.0f} KiB | |")
    for size in (64, 1200):
        print(f"| data path through the API, {size} B datagrams/s | {dp[('api', size)]:,.0f} | "
              f"{dp[('api', size)] / dp[('raw', size)]:.2f} x raw sendmmsg/recvmmsg |")
    print(f"| data path through the Python package, 64 B/s | {py['ruphin']:,.0f} | "
          f"{py['ruphin'] / py['socket']:.2f} x Python socket |")
    print(f"| time to first echo on loopback (median of {ttc['trials']}) | "
          f"{ttc['median_ms']} ms | {ttc['ratio']} x round-trip floor ({ttc['floor_ms']} ms) |")


if __name__ == "__main__":
    sys.exit(main())
