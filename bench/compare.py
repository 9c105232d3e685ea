#!/usr/bin/env python3
"""Two checkouts' holepunchers under the same load, interleaved, for
judging a change to the request path on a shared machine:

    python3 bench/compare.py A_ROOT B_ROOT [--seconds S] [--rounds R]
                             [--sessions N] [--modes join,hello,...]

Each round runs the raw responders once, then a fresh hp_serve of each
checkout (built with its own core and bench/hp_serve.c), in alternating
order, through the suite's load modes. Prints the medians: rate against the
raw responder of the same rounds, and the server's CPU per request, which
moves less with other processes' load than rates do.
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (the suite's servers and load)

SHARED_MODES = ("join", "hello", "join-miss", "refresh", "register")  # one server; join fills it
MODES = SHARED_MODES + ("register-level",)  # a server of its own, with short-lived sessions
LEVEL_RATE = 400000  # register-level: sessions live 1,000,000 / this many seconds (run.py's rule)


def build_hp(root, out):
    core = glob.glob(os.path.join(root, "core", "src", "*.c"))
    subprocess.run(["cc", "-O2", "-std=gnu11", "-I", os.path.join(root, "core", "include"),
                    "-I", os.path.join(root, "bench"), os.path.join(root, "bench", "hp_serve.c"),
                    *core, "-lpthread", "-o", out], check=True)


def measure(bin_dir, args):
    res = {}
    for r in range(args.rounds):
        port = run.BASE_PORT + r * 4
        with run.Server([os.path.join(bin_dir, "raw_echo"), "127.0.0.1", str(port)]) as raw:
            res.setdefault("raw", []).append(run.load(bin_dir, raw, port, "hello", args.seconds))
        with run.Server([os.path.join(bin_dir, "raw_echo"), "127.0.0.1", str(port + 1),
                         str(port + 2)]) as raw2:
            res.setdefault("raw2", []).append(
                run.load(bin_dir, raw2, port + 1, "hello", args.seconds, owner_port=port + 2))
        for tag in (("A", "B") if r % 2 == 0 else ("B", "A")):
            with run.Server([os.path.join(bin_dir, "hp" + tag), f"127.0.0.1:{port + 3}",
                             str(args.sessions * 4), "600000"]) as hp:
                for mode in SHARED_MODES:
                    if mode in args.modes or mode == "join":
                        k = args.sessions if mode in ("join", "refresh") else 0
                        res.setdefault(f"{tag}:{mode}", []).append(
                            run.load(bin_dir, hp, port + 3, mode, args.seconds, k))
            if "register-level" in args.modes:
                res.setdefault(f"{tag}:register-level", []).append(run.register_level(
                    bin_dir, port + 3, args.seconds, args.sessions, LEVEL_RATE, "hp" + tag))
    return res


def report(res):
    med = {k: (statistics.median(x["rate"] for x in v), statistics.median(x["cpu_us"] for x in v))
           for k, v in res.items()}
    print(f"raw {med['raw'][0]:,.0f}/s {med['raw'][1]:.2f} us; "
          f"raw two-datagram {med['raw2'][0]:,.0f}/s {med['raw2'][1]:.2f} us")
    for key in sorted(k for k in med if ":" in k):
        base = med["raw2" if key.endswith(":join") else "raw"]
        rate, cpu = med[key]
        print(f"{key:12s} {rate:10,.0f}/s ({rate / base[0]:.2f} x raw)  "
              f"CPU {cpu:.2f} us ({cpu / base[1]:.2f} x)  rounds {[int(x['rate']) for x in res[key]]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=1000000)
    ap.add_argument("--modes", default=",".join(MODES))
    args = ap.parse_args()
    args.modes = args.modes.split(",")
    with tempfile.TemporaryDirectory() as bin_dir:
        run.build(bin_dir)
        build_hp(args.a, os.path.join(bin_dir, "hpA"))
        build_hp(args.b, os.path.join(bin_dir, "hpB"))
        print("load average", " ".join(open("/proc/loadavg").read().split()[:3]))
        res = measure(bin_dir, args)
        print("load average", " ".join(open("/proc/loadavg").read().split()[:3]))
    report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
