#!/usr/bin/env python3
"""The NAT lab's matrix: the `ruphin` program through every pair of NAT kinds
(server behind one, client behind the other), N trials each in a fresh lab,
at each chosen one-way delay and loss. Prints a markdown table per condition
(success rate, how the peers connected, median time from the client's start
to its first echoed datagram) and, with --targets, which targets of issue 3
are met. Needs root. docs/NAT.md shows a run.

    /usr/bin/python3 tests/natlab/matrix.py [--trials 20] [--delay-ms 0,2,20]
        [--loss 0,0.05] [--pairs all|ci|direct|portmap|S:C,...] [--jobs 4 [--scan-jobs 1]]
        [--logs DIR]
    /usr/bin/python3 tests/natlab/matrix.py --targets     # the issue's conditions

Kinds (lab.py, docs/NAT.md): public, fullcone, restricted, restricted-open,
symmetric, double; samenat (as samenat:samenat); and the routers that map
ports on request with miniupnpd: symmetric-upnp, symmetric-natpmp,
double-upnp (until the peers map ports, they are behind a symmetric NAT). `all`
is every pair of the first six and samenat; `portmap` is each of the last
three against a port-restricted client.
"""
import argparse
import collections
import concurrent.futures
import ctypes
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402
from lab import ALL_KINDS, KINDS, PORTMAP_KINDS, SAME_NAT  # noqa: E402

HP = f"{natlab.HP_ADDR}:{natlab.HP_PORT}"
SESSION = "natlab"
# What CI asserts (test_ruphin.py): (server kind, client kind, one-way delay
# in ms) that the current punching passes in every trial of the matrix:
# among them the clash kind without delay (the server's low-TTL punches) and
# symmetric NAT against port-restricted in both directions (the port scan).
CI_CASES = [("public", "public", 0), ("restricted", "restricted", 0),
            ("restricted", "restricted", 20), ("double", "restricted", 0),
            ("fullcone", "restricted", 20), ("restricted-open", "restricted-open", 20),
            ("restricted", "restricted-open", 0), ("restricted-open", "restricted-open", 0),
            ("symmetric", "public", 0), ("symmetric", "restricted", 0),
            ("restricted", "symmetric", 0), ("restricted-open", "symmetric", 0),
            (SAME_NAT, SAME_NAT, 0),
            ("symmetric", "symmetric", 0)]
CI_PAIRS = list(dict.fromkeys((s, c) for s, c, _ in CI_CASES))

PR_SET_PDEATHSIG = 1  # prctl(2)
RELAY_RATE = 65536  # bytes/s per pair: plenty for the trials' few datagrams
Result = collections.namedtuple("Result", "ok connect_ms echo_ms path why")


def all_pairs():
    return [(s, c) for s in KINDS for c in KINDS] + [(SAME_NAT, SAME_NAT)]


def symmetric_in(pair):
    return any(kind in natlab.SYMMETRIC_KINDS for kind in pair)


def parse_pairs(text):
    if text == "all":
        return all_pairs()
    if text == "ci":
        return CI_PAIRS
    if text == "direct":  # no symmetric NAT involved
        return [p for p in all_pairs() if not symmetric_in(p)]
    if text == "portmap":  # one pair per router that maps ports
        return [(kind, "restricted") for kind in PORTMAP_KINDS]
    pairs = [tuple(p.split(":")) for p in text.split(",")]
    for pair in pairs:
        if len(pair) != 2 or not (pair == (SAME_NAT, SAME_NAT) or set(pair) <= set(ALL_KINDS)):
            raise ValueError(f"{':'.join(pair)!r} is not SERVER:CLIENT of kinds "
                             f"{', '.join(ALL_KINDS)} (or {SAME_NAT}:{SAME_NAT})")
    return pairs


def wait_for(path, text, timeout, proc):
    """Waits until a log file holds text; False if time runs out or proc ends."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(path) as f:
            if text in f.read():
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def path_kind(addr):
    """How the client reached its server, from the address it connected to."""
    ip = addr.rsplit(":", 1)[0]
    if ip == natlab.HP_ADDR:
        return "relay"
    return "lan" if ip.startswith("198.18.") else "direct"


def read_result(client_log, returncode):
    """A trial's Result from the client's exit code and its log (stderr):
    the path is the one it was on when the first echo came back."""
    with open(client_log) as f:
        log = f.read()
    path = connect_ms = echo_ms = None
    relayed = False  # the line before said relayed: this "connected" is the same event
    for line in log.splitlines():
        stamp = re.match(r"\[ *([\d.]+)\]", line)
        connected = re.search(r"connected to (\S+) after (\d+) ms", line)
        if connected and not relayed:
            path = path_kind(connected.group(1))
        relayed = re.search(r"\brelayed\b", line) is not None
        if relayed:  # the holepuncher relays: no direct path
            path = "relay"
        if (connected or path == "relay") and connect_ms is None:
            connect_ms = int(connected.group(2)) if connected else round(1000 * float(stamp[1]))
        echo = re.search(r"first datagram back after (\d+) ms", line)
        if echo:
            echo_ms = int(echo.group(1))
            break
    ok = returncode == 0 and echo_ms is not None
    return Result(ok, connect_ms, echo_ms, path,
                  None if ok else failure(log, connect_ms is not None, returncode))


def failure(log, connected, returncode):
    """A short reason for a failed trial."""
    if connected:
        return "connected, but no echo came back"
    if "server announced" in log:
        return "announced, but punching never connected"
    # The last thing the client said, without its time stamp or name.
    lines = [re.sub(r"^(\[[ \d.]+\] |ruphin: client: )", "", line)
             for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {returncode}"


def keep_logs(lab, logs, keep_dir):
    """Copies a failed trial's logs and its routers' conntrack tables."""
    os.makedirs(keep_dir, exist_ok=True)
    for name in os.listdir(logs):
        shutil.copy(os.path.join(logs, name), keep_dir)
    for role, routers in lab.routers.items():
        for i in range(len(routers)):
            with open(os.path.join(keep_dir, f"conntrack-{role}-{i}.txt"), "w") as f:
                f.write(lab.conntrack(role, i))


def start(lab, role, argv, log_path, ready, timeout):
    """Starts argv on a host, its stderr to log_path; None unless `ready`
    appears in the log in time."""
    with open(log_path, "w") as log:
        proc = lab.popen(role, argv, stdout=subprocess.DEVNULL, stderr=log)
    return proc if wait_for(log_path, ready, timeout, proc) else None


def echo_count(loss):
    """Datagrams the client sends for its server to echo. A trial succeeds
    on the first echo; with loss, a datagram and its echo each cross one
    lossy edge (at 5 %: 9.75 % lost per round trip), and the first may leave
    before the path is open, so with 3 about one connected trial in a few
    hundred got no echo back: the lab's luck, not the connection's. 10 make
    that about 1e-9."""
    return 3 if loss == 0 else 10


def trial(ruphin, server_kind, client_kind, delay_ms=0, loss=0.0, helper_dir=None, count=None,
          timeout=10, hp_args=(), peer_args=(), keep_dir=None, keep_all=False, session=SESSION):
    """One connection attempt in a fresh lab: a Result. Its logs go to
    keep_dir if it failed (or always, with keep_all). count: echo datagrams,
    by default echo_count(loss)."""
    count = count or echo_count(loss)
    with natlab.Lab(server_kind, client_kind, delay_ms, loss, helper_dir) as lab, \
            tempfile.TemporaryDirectory() as logs:
        log = {role: os.path.join(logs, f"{role}.log") for role in ("hp", "server", "client")}
        if not start(lab, "holepuncher", [ruphin, "holepuncher", "--listen", HP, *hp_args],
                     log["hp"], "listening", 5):
            raise RuntimeError(f"the holepuncher did not start: {open(log['hp']).read()}")
        if not start(lab, "server", [ruphin, "server", "-H", HP, "-s", session, "--echo",
                                     *peer_args], log["server"], "REGISTERED", 15):
            result = Result(False, None, None, None, "the server did not register")
        else:
            with open(log["client"], "w") as err:
                client = lab.popen("client", [ruphin, "client", "-H", HP, "-s", session,
                                              "--count", str(count), "--timeout", str(timeout),
                                              *peer_args], stdout=subprocess.DEVNULL, stderr=err)
            client.wait(timeout + 30)
            result = read_result(log["client"], client.returncode)
        if keep_dir and (keep_all or not result.ok):
            keep_logs(lab, logs, keep_dir)
        return result


def summarize(results):
    """Counts and medians of one pair's trials."""
    ok = [r for r in results if r.ok]
    paths = collections.Counter(r.path for r in ok)
    whys = collections.Counter(r.why for r in results if not r.ok)

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None
    return {"ok": len(ok), "n": len(results), "paths": paths,
            "connect": median(r.connect_ms for r in ok), "echo": median(r.echo_ms for r in ok),
            "why": whys.most_common(1)[0] if whys else None}


def floor_ms(pair, delay_ms):
    """One round trip to the holepuncher plus one between the peers (on a
    shared LAN the latter has no lab delay)."""
    return 2 * delay_ms + (0 if pair[0] == SAME_NAT else 2 * delay_ms)


def table(rows, delay_ms, loss):
    lines = [f"One-way delay {delay_ms} ms, loss {loss:g} per internet edge "
             f"(time floor = 1 RTT to the holepuncher + 1 RTT between the peers).", "",
             "| server behind | client behind | connected | direct / LAN / relay "
             "| median ms to connect | median ms to first echo | floor ms | most common failure |",
             "|---|---|---|---|---|---|---|---|"]
    for pair, s in rows:
        p = s["paths"]
        why = f"{s['why'][0]} ({s['why'][1]}x)" if s["why"] else ""
        lines.append(f"| {pair[0]} | {pair[1]} | {s['ok']}/{s['n']} ({100 * s['ok'] / s['n']:.0f}%) "
                     f"| {p['direct']} / {p['lan']} / {p['relay']} | {fmt(s['connect'])} "
                     f"| {fmt(s['echo'])} | {floor_ms(pair, delay_ms)} | {why} |")
    return "\n".join(lines)


def fmt(value):
    return "-" if value is None else f"{value:g}"


def check_targets(runs):
    """Issue 3's targets over the conditions that ran: [(target, met, misses)]."""
    checks = []

    def check(name, select, condition, passes):
        misses, seen = [], False
        for (delay, loss), rows in runs.items():
            for pair, s in rows:
                if select(pair) and condition(delay, loss):
                    seen = True
                    if not passes(s, pair, delay):
                        paths = ", ".join(f"{k} {v}" for k, v in sorted(s["paths"].items()))
                        misses.append(f"{pair[0]}/{pair[1]} @{delay}ms/{loss:g}: "
                                      f"{s['ok']}/{s['n']}{f' ({paths})' if paths else ''}, "
                                      f"echo {fmt(s['echo'])} ms")
        if seen:
            checks.append((name, not misses, misses))

    def rate(s, paths=("direct", "lan", "relay")):
        return sum(s["paths"][p] for p in paths) / s["n"]

    def sym_with(*others):
        return lambda p: "symmetric" in p and any(o in p for o in others)
    check("no symmetric NAT, 0% loss: 100%", lambda p: not symmetric_in(p),
          lambda d, l: l == 0, lambda s, p, d: rate(s) == 1)
    check("no symmetric NAT, 5% loss: >= 99%", lambda p: not symmetric_in(p),
          lambda d, l: l > 0, lambda s, p, d: rate(s) >= 0.99)
    check("symmetric vs public or full cone, 0% loss: 100%", sym_with("public", "fullcone"),
          lambda d, l: l == 0, lambda s, p, d: rate(s) == 1)
    check("symmetric vs port-restricted, 0% loss: >= 90% direct",
          sym_with("restricted", "restricted-open", "double"),
          lambda d, l: l == 0, lambda s, p, d: rate(s, ("direct",)) >= 0.9)
    check("symmetric vs symmetric, 0% loss: 100% (relay)", lambda p: p == ("symmetric",) * 2,
          lambda d, l: l == 0, lambda s, p, d: rate(s) == 1)
    check("median ms to first echo <= 1.2 x floor at 20 ms, 0% loss", lambda p: True,
          lambda d, l: d == 20 and l == 0,
          lambda s, p, d: s["echo"] is not None and s["echo"] <= 1.2 * floor_ms(p, d))
    return checks


def submit_condition(args, pairs, delay_ms, loss, pools):
    """Every trial of one condition: {pair: [future or deferred call]}. With
    pools, trials of pairs that need the port scan go to pools["scan"]
    (--scan-jobs at once: 65000 probes a pass load a 2-core machine), the
    rest to pools["light"] (--jobs), all queued at once so that the run
    never waits for one pair's slowest trial."""
    jobs = {}
    for pair in pairs:
        pool = pools and pools["scan" if symmetric_in(pair) else "light"]
        jobs[pair] = []
        for i in range(args.trials):
            keep = args.logs and os.path.join(args.logs, f"{pair[0]}-{pair[1]}-{delay_ms}ms-"
                                                         f"{loss:g}-{i}")
            call = (trial, args.ruphin, pair[0], pair[1], delay_ms, loss, None, None,
                    args.timeout, shlex.split(args.hp_args), shlex.split(args.peer_args), keep,
                    False, args.session)
            jobs[pair].append(pool.submit(*call) if pool else call)
    return jobs


def collect_condition(jobs, delay_ms, loss):
    """The results of submit_condition: [(pair, summary)]; progress on stderr."""
    rows = []
    for pair, calls in jobs.items():
        results = [j[0](*j[1:]) if isinstance(j, tuple) else j.result() for j in calls]
        s = summarize(results)
        rows.append((pair, s))
        print(f"{delay_ms:>3} ms {loss:<5g} {pair[0]:>15} <- {pair[1]:<15} {s['ok']}/{s['n']} "
              f"{dict(s['paths'])} echo {fmt(s['echo'])} ms"
              f"{'  ' + s['why'][0] if s['why'] else ''}", file=sys.stderr, flush=True)
    return rows


def report(args, runs):
    version = subprocess.run([args.ruphin, "--version"], capture_output=True, text=True)
    commit = subprocess.run(["git", "-C", natlab.ROOT, "log", "-1", "--format=%h"],
                            capture_output=True, text=True)
    out = [f"`{' '.join(sys.argv)}`: {args.trials} trials per pair, "
           f"{version.stdout.strip()} at commit {commit.stdout.strip() or '?'}, "
           f"{time.strftime('%Y-%m-%d')}, kernel {os.uname().release}.", ""]
    for (delay, loss), rows in runs.items():
        out += [table(rows, delay, loss), ""]
    if args.targets:
        out += ["Targets of issue 3:", ""]
        for name, met, misses in check_targets(runs):
            shown = "; ".join(misses[:8]) + (" ..." if len(misses) > 8 else "")
            out.append(f"- {'MET' if met else 'NOT MET'}: {name}" +
                       ("" if met else f" (misses: {shown})"))
    return "\n".join(out)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=None, help="per pair and condition (20)")
    ap.add_argument("--delay-ms", default=None, help="one-way delays, comma-separated (0)")
    ap.add_argument("--loss", default=None, help="loss rates per edge, comma-separated (0)")
    ap.add_argument("--pairs", default="all",
                    help=f"all, ci, direct, portmap or SERVER:CLIENT,... of kinds "
                         f"{', '.join(ALL_KINDS)} ({SAME_NAT}:{SAME_NAT})")
    ap.add_argument("--targets", action="store_true",
                    help="check issue 3's targets; defaults to 20 trials at 2,20 ms x 0,0.05")
    ap.add_argument("--jobs", type=int, default=1,
                    help="trials at once, each in its own lab (timing gets noisier)")
    ap.add_argument("--scan-jobs", type=int, default=1,
                    help="with --jobs > 1: of them, trials of pairs with a symmetric NAT "
                         "(the port scan) at once, in a pool of their own")
    ap.add_argument("--timeout", type=int, default=10, help="client --timeout, seconds")
    ap.add_argument("--session", default=SESSION,
                    help=f"session id ({SESSION!r}: its generation-0 Join is shorter than the "
                         "answer, which the holepuncher refuses; the client's join probe is "
                         "answered at once)")
    ap.add_argument("--hp-args", default=None,
                    help="extra holepuncher arguments (with --targets: the relay, if it has one)")
    ap.add_argument("--peer-args", default="", help="extra server and client arguments")
    ap.add_argument("--logs", help="keep failed trials' logs and conntrack tables here")
    ap.add_argument("--markdown", help="also write the report to this file")
    build = os.environ.get("RUPHIN_BUILD_DIR", os.path.join(natlab.ROOT, "build"))
    ap.add_argument("--ruphin", default=os.path.join(build, "ruphin"))
    args = ap.parse_args(argv)
    try:
        parse_pairs(args.pairs)
    except ValueError as e:
        ap.error(f"--pairs: {e}")
    args.trials = args.trials or 20
    args.delay_ms = args.delay_ms or ("2,20" if args.targets else "0")
    args.loss = args.loss or ("0,0.05" if args.targets else "0")
    args.ruphin = os.path.abspath(args.ruphin)
    if not os.access(args.ruphin, os.X_OK):
        ap.error(f"{args.ruphin} is not built (cmake -S . -B build && cmake --build build)")
    if args.hp_args is None:
        args.hp_args = relay_args(args.ruphin) if args.targets else ""
    return args


def relay_args(ruphin):
    """The holepuncher's relay, opt-in, for targets that need it."""
    usage = subprocess.run([ruphin, "holepuncher", "--help"], capture_output=True, text=True)
    return f"--relay-rate {RELAY_RATE}" if "--relay-rate" in usage.stdout else ""


def worker_init():
    """A trial process: a signal to the run reaches the main process only,
    which lets the running trials end and clean up; if the main process dies,
    so does the worker (and with it the processes of its lab)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv=None):
    args = parse_args(argv)
    pairs = parse_pairs(args.pairs)
    portmap = any(kind in PORTMAP_KINDS for pair in pairs for kind in pair)
    why = natlab.portmap_available() if portmap else natlab.available()
    if why:
        sys.exit(f"natlab: {why}")
    # A plain `kill` must still run the labs' cleanup (atexit, with-blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    natlab.sweep_stale()
    natlab.build_delay_helper()
    runs = {}
    pools = None
    if args.jobs > 1:
        pools = {"light": concurrent.futures.ProcessPoolExecutor(args.jobs, initializer=worker_init),
                 "scan": concurrent.futures.ProcessPoolExecutor(args.scan_jobs,
                                                               initializer=worker_init)}
    try:
        conditions = [(delay, loss) for delay in map(int, args.delay_ms.split(","))
                      for loss in map(float, args.loss.split(","))]
        # Sequential runs submit nothing ahead (the calls run as they are collected).
        jobs = {c: submit_condition(args, pairs, *c, pools) for c in conditions}
        for condition in conditions:
            runs[condition] = collect_condition(jobs[condition], *condition)
            if args.markdown:  # what is done so far survives an interrupted run
                with open(args.markdown, "w") as f:
                    f.write(report(args, runs) + "\n")
    finally:
        for pool in (pools or {}).values():
            pool.shutdown(cancel_futures=True)
    print(report(args, runs))


if __name__ == "__main__":
    main()
