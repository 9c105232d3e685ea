#!/usr/bin/env python3
"""Two checkouts' holepunchers under the same load, interleaved, for
judging a change to the request path on a shared machine:

    python3 bench/compare.py A_ROOT B_ROOT [--seconds S] [--rounds R]
                             [--sessions N] [--modes join,hello,...]

Each round starts a fresh hp_serve of each checkout (built with its own core
and bench/hp_serve.c) and runs, for each of the suite's load modes, A and
B (which first alternates by round), each between two runs of the raw
responder (again when those disagree, as in run.py). Prints the medians:
rate against the mean of those two raw runs, and the server's CPU per
request, which moves less with other processes' load than rates do.
"""
import argparse
import glob
import os
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
    """Rounds of: for each mode, A and B (in turns first), each between two
    raw runs (run.RawBaselines.around: raw, A, raw, B, raw), both
    holepunchers up through the round: a pair's measures are seconds apart."""
    res = {}
    for r in range(args.rounds):
        port = run.BASE_PORT + r * 8  # raw, raw2 (+ its copy port), hpA, hpB
        order = ("A", "B") if r % 2 == 0 else ("B", "A")
        hp_port = {"A": port + 3, "B": port + 4}
        room = str(run.table_room(args.sessions, args.seconds, run.TRIES))  # as run.py's
        with run.RawBaselines(bin_dir, port, args.seconds, res) as raw:
            with run.Server([os.path.join(bin_dir, "hpA"), f"127.0.0.1:{hp_port['A']}", room,
                             "600000"]) as hp_a, \
                 run.Server([os.path.join(bin_dir, "hpB"), f"127.0.0.1:{hp_port['B']}", room,
                             "600000"]) as hp_b:
                hps = {"A": hp_a, "B": hp_b}
                for mode in SHARED_MODES:
                    if mode in args.modes or mode == "join":  # join fills the tables
                        k = args.sessions if mode in ("join", "refresh") else 0
                        for tag in order:
                            run.measured(res, f"{tag}:{mode}", raw.around(
                                lambda: run.load(bin_dir, hps[tag], hp_port[tag], mode,
                                                 args.seconds, k, owner_port=port + 2
                                                 if mode == "join" else 0),  # as run.py's
                                two_datagrams=mode == "join"))
            if "register-level" in args.modes:
                for tag in order:
                    run.measured(res, f"{tag}:register-level", raw.around(
                        lambda: run.register_level(bin_dir, hp_port[tag], args.seconds,
                                                   args.sessions, LEVEL_RATE, "hp" + tag)))
    return res


def report(res):
    """Medians over rounds (run.median_run): rates, CPU per request, and the
    rounds' ratios to their baselines."""
    med = {key: run.median_run(results) for key, results in res.items()}
    print(f"raw {med['raw']['rate']:,.0f}/s {med['raw']['cpu_us']:.2f} us; raw two-datagram "
          f"{med['raw2']['rate']:,.0f}/s {med['raw2']['cpu_us']:.2f} us")
    for key in sorted(k for k in med if ":" in k):
        m = med[key]
        which = "raw two-datagram" if key.endswith(":join") else "raw"
        print(f"{key:18s} {m['rate']:10,.0f}/s ({m['ratio']:.2f} x {which})  "
              f"CPU {m['cpu_us']:.2f} us ({m['cpu_ratio']:.2f} x)  "
              f"rounds {[int(rate) for rate in m['rates']]}")


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
