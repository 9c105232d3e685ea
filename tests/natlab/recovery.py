#!/usr/bin/env python3
"""Path recovery in the NAT lab (issue 21; docs/NAT.md, "When a path
breaks"): a server and a client behind port-restricted routers, both run
with --keepalive-ms 1000, the client sending a line every 250 ms from its
standard input and the server echoing it. Mid-session one side changes:

    client-rebind   the client's router forgets its mappings and maps from
                    other ports (test_rebinding.py's rebind())
    server-rebind   the same at the server's router
    both-rebind     both at once
    client-reboot   the client's router drops everything for REBOOT_S
                    seconds, then comes back with no mappings (and maps the
                    same ports again, as a rebooted router does)
    server-reboot   the same at the server's router
    client-address  the client's host changes its own address on its LAN
                    (its router then maps it from another port)

A trial measures, from the change (for a reboot: from the router's return),
how long until an echo of a line sent after it comes back, and checks that
the client kept its session (no "went silent"), that the events said what
happened (PATH_LOST, PATH_RESTORED) and that the server printed only lines
the client sent. The full grid, 20 trials of each change at 20 ms one-way
delay without loss and with 5 % loss per internet edge (the lab's own
`-m statistic` loss), as CSV and JSON:

    /usr/bin/python3 tests/natlab/recovery.py --trials 20 --delay-ms 20 --loss 0,0.05 \\
        --jobs 2 --out tests/natlab/recovery_results

Needs root. test_rebinding.py runs one trial of each change (CI).
"""
import argparse
import collections
import concurrent.futures
import csv
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402
import matrix  # noqa: E402

CHANGES = ["client-rebind", "server-rebind", "both-rebind", "client-reboot", "server-reboot",
           "client-address"]
KEEPALIVE_MS = 1000
LINE_GAP_S = 0.25
REBOOT_S = 3
TARGET_MS = 3000  # data flows again within 3 s of the change (issue 21)
# Below the ephemeral range (32768-60999 by default), so that the port a
# socket got, which its NAT keeps, is never one of them.
NEW_PORTS = {"client": range(20000, 21000), "server": range(21000, 22000)}
NEW_CLIENT_ADDR = "198.18.0.4"

Trial = collections.namedtuple(
    "Trial", "change delay_ms loss trial ok recovery_ms lost_ms restored_ms why")


def rebind(lab, role):
    """The role's router maps from NEW_PORTS[role] from now on and forgets
    every mapping it had."""
    ports = NEW_PORTS[role]
    router = lab.routers[role][-1]
    lab.sh(router, f"iptables -t nat -I POSTROUTING 1 -o wan -p udp -j MASQUERADE "
                   f"--to-ports {ports.start}-{ports.stop - 1}")
    lab.sh(router, "conntrack -D -p udp >/dev/null 2>&1 || true")


def power_off(lab, role):
    """The role's router stops forwarding anything and forgets its mappings."""
    router = lab.routers[role][-1]
    lab.sh(router, "iptables -I FORWARD 1 -j DROP && iptables -I INPUT 1 -j DROP && "
                   "conntrack -D -p udp >/dev/null 2>&1 || true")


def power_on(lab, role):
    """... and comes back, with no mappings, mapping the same ports again."""
    router = lab.routers[role][-1]
    lab.sh(router, "iptables -D FORWARD 1 && iptables -D INPUT 1 && "
                   "conntrack -D -p udp >/dev/null 2>&1 || true")


def move_client(lab):
    """The client's host takes another address on its LAN and drops the old
    one (its socket is bound to the wildcard address and keeps working)."""
    host = lab.hosts["client"]
    lab.sh(host, f"sysctl -qw net.ipv4.conf.lan.promote_secondaries=1 && "
                 f"ip addr add {NEW_CLIENT_ADDR}/24 dev lan && "
                 f"ip addr del {natlab.LAN_HOST['client']}/24 dev lan && "
                 f"ip route replace default via {natlab.LAN_GW}")


class Feeder:
    """Writes a numbered line to the client's standard input every
    LINE_GAP_S and reads the echoes it prints, with their times."""

    def __init__(self, proc):
        self.proc = proc
        self.sent = {}       # line -> monotonic time it was written
        self.echoes = []     # (monotonic time, line)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._write, daemon=True),
                        threading.Thread(target=self._read, daemon=True)]
        for t in self.threads:
            t.start()

    def _write(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            line = f"line {n}"
            with self.lock:
                self.sent[line] = time.monotonic()
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return
            self.stop.wait(LINE_GAP_S)

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.echoes.append((time.monotonic(), line.rstrip("\n")))

    def first_echo_after(self, t):
        """When the first echo of a line written at t or later came back."""
        with self.lock:
            for at, line in self.echoes:
                if self.sent.get(line, -1) >= t:
                    return at
        return None

    def close(self):
        self.stop.set()
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


def log_times(path, start):
    """The client's log: ms of its PATH_LOST and PATH_RESTORED lines, as
    seconds of monotonic time (its log counts from its start)."""
    with open(path) as f:
        text = f.read()
    lost = [int(m) for m in re.findall(r"path to \S+ lost after (\d+) ms", text)]
    restored = [int(m) for m in re.findall(r"path restored to \S+ after (\d+) ms", text)]
    return text, [start + ms / 1000 for ms in lost], [start + ms / 1000 for ms in restored]


def trial(ruphin, change, delay_ms=20, loss=0.0, index=0, keep_dir=None, wait_s=12):
    """One session through one change: a Trial."""
    with natlab.Lab("restricted", "restricted", delay_ms, loss) as lab, \
            tempfile.TemporaryDirectory() as logs:
        log = {role: os.path.join(logs, f"{role}.log") for role in ("hp", "server", "client")}
        out = os.path.join(logs, "server.out")
        tunables = ["--keepalive-ms", str(KEEPALIVE_MS)]

        def result(ok, recovery=None, lost=None, restored=None, why=None):
            if keep_dir and not ok:
                matrix.keep_logs(lab, logs, keep_dir)
            return Trial(change, delay_ms, loss, index, ok, recovery, lost, restored, why)

        if not matrix.start(lab, "holepuncher", [ruphin, "holepuncher", "--listen", matrix.HP],
                            log["hp"], "listening", 5):
            raise RuntimeError(f"the holepuncher did not start: {open(log['hp']).read()}")
        with open(out, "w") as server_out, open(log["server"], "w") as err:
            server = lab.popen("server", [ruphin, "server", "-H", matrix.HP, "-s", "roam",
                                          "--echo", *tunables], stdout=server_out, stderr=err)
        if not matrix.wait_for(log["server"], "REGISTERED", 15, server):
            return result(False, why="the server did not register")
        with open(log["client"], "w") as err:
            client = lab.popen("client", [ruphin, "client", "-H", matrix.HP, "-s", "roam",
                                          *tunables], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=err, text=True)
        started = time.monotonic()
        if not matrix.wait_for(log["client"], "connected to", 15, client):
            return result(False, why="the client did not connect")
        feeder = Feeder(client)
        try:
            time.sleep(2)  # a few echoes on the first path
            if feeder.first_echo_after(started) is None:
                return result(False, why="no echo before the change")
            t0 = time.monotonic()
            if change in ("client-rebind", "both-rebind"):
                rebind(lab, "client")
            if change in ("server-rebind", "both-rebind"):
                rebind(lab, "server")
            if change.endswith("-reboot"):
                role = change.split("-")[0]
                power_off(lab, role)
                time.sleep(REBOOT_S)
                power_on(lab, role)  # measured from the router's return (below)
            if change == "client-address":
                move_client(lab)
            # From when the change is complete: lines sent before it (while
            # conntrack -D ran) may still have used the old path.
            t0 = time.monotonic()
            end = t0 + wait_s
            while feeder.first_echo_after(t0) is None and time.monotonic() < end:
                if client.poll() is not None:
                    break
                time.sleep(0.02)
            echo = feeder.first_echo_after(t0)
            time.sleep(0.5)  # a few more lines on the new path
        finally:
            feeder.close()
        try:
            client.wait(5)
        except subprocess.TimeoutExpired:
            client.kill()
        text, lost, restored = log_times(log["client"], started)
        if echo is None:
            why = "the client gave up" if "went silent" in text else "no echo after the change"
            return result(False, why=why)
        recovery = round(1000 * (echo - t0))
        lost_ms = round(1000 * (lost[-1] - t0)) if lost else None
        restored_ms = round(1000 * (restored[-1] - t0)) if restored else None
        with open(out) as f:
            printed = [line.rstrip("\n") for line in f]
        forged = [line for line in printed if line not in feeder.sent]
        if forged:
            return result(False, recovery, lost_ms, restored_ms,
                          f"the server printed lines nobody sent: {forged[:3]}")
        if "went silent" in text or client.returncode not in (0, None):
            return result(False, recovery, lost_ms, restored_ms, "the client ended")
        with open(log["server"]) as f:
            server_log = f.read()
        # (A DISCONNECTED without a reason is the client's bye as it ends.)
        if "PATH_RESTORED" not in server_log or re.search(r"DISCONNECTED \S+: ", server_log):
            return result(False, recovery, lost_ms, restored_ms,
                          "the server did not take the client back")
        return result(True, recovery, lost_ms, restored_ms)


def summarize(trials):
    """Per (change, delay, loss): trials, successes, median and worst ms."""
    groups = collections.OrderedDict()
    for t in trials:
        groups.setdefault((t.change, t.delay_ms, t.loss), []).append(t)
    rows = []
    for (change, delay, loss), ts in groups.items():
        times = [t.recovery_ms for t in ts if t.ok]
        rows.append({"change": change, "delay_ms": delay, "loss": loss, "trials": len(ts),
                     "recovered": len(times),
                     "median_ms": statistics.median(times) if times else None,
                     "worst_ms": max(times) if times else None,
                     "within_3s": sum(1 for v in times if v <= TARGET_MS)})
    return rows


def write(path, trials, args):
    rows = summarize(trials)
    with open(path + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(Trial._fields)
        for t in trials:
            w.writerow(t)
    total = len(trials)
    ok = sum(t.ok for t in trials)
    meta = {"command": " ".join(sys.argv), "keepalive_ms": KEEPALIVE_MS,
            "line_every_ms": int(LINE_GAP_S * 1000), "reboot_s": REBOOT_S,
            "kernel": os.uname().release, "date": time.strftime("%Y-%m-%d"),
            "commit": subprocess.run(["git", "-C", natlab.ROOT, "log", "-1", "--format=%h"],
                                     capture_output=True, text=True).stdout.strip(),
            "recovered": ok, "trials": total,
            "rate": ok / total if total else None,
            "all_times_ms": {"median": statistics.median([t.recovery_ms for t in trials if t.ok])
                             if ok else None,
                             "worst": max([t.recovery_ms for t in trials if t.ok]) if ok else None}}
    with open(path + ".json", "w") as f:
        json.dump({"meta": meta, "summary": rows, "trials": [t._asdict() for t in trials]}, f,
                  indent=1)
    return rows, meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--delay-ms", default="20", help="one-way delays, comma-separated")
    ap.add_argument("--loss", default="0,0.05", help="loss per internet edge, comma-separated")
    ap.add_argument("--changes", default=",".join(CHANGES))
    ap.add_argument("--jobs", type=int, default=1, help="trials at once, each in its own lab")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "recovery_results"),
                    help="writes OUT.csv (every trial) and OUT.json (summary and trials)")
    ap.add_argument("--logs", help="keep failed trials' logs and conntrack tables here")
    build = os.environ.get("RUPHIN_BUILD_DIR", os.path.join(natlab.ROOT, "build"))
    ap.add_argument("--ruphin", default=os.path.join(build, "ruphin"))
    args = ap.parse_args(argv)
    why = natlab.available()
    if why:
        sys.exit(f"natlab: {why}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    natlab.sweep_stale()
    natlab.build_delay_helper()
    calls = [(change, int(d), float(l), i)
             for d in args.delay_ms.split(",") for l in args.loss.split(",")
             for change in args.changes.split(",") for i in range(args.trials)]
    trials = []

    def run(call):
        change, d, l, i = call
        keep = args.logs and os.path.join(args.logs, f"{change}-{d}ms-{l:g}-{i}")
        return trial(os.path.abspath(args.ruphin), change, d, l, i, keep)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for t in pool.map(run, calls):
            trials.append(t)
            print(f"{t.change:>15} {t.delay_ms:>3} ms {t.loss:<5g} #{t.trial:<2} "
                  f"{'ok' if t.ok else 'FAILED'} {t.recovery_ms} ms"
                  f"{'' if t.ok else '  ' + str(t.why)}", file=sys.stderr, flush=True)
            write(args.out, trials, args)
    rows, meta = write(args.out, trials, args)
    for r in rows:
        print(f"{r['change']:>15} {r['delay_ms']:>3} ms loss {r['loss']:<5g} "
              f"{r['recovered']}/{r['trials']} recovered, median {r['median_ms']} ms, "
              f"worst {r['worst_ms']} ms, {r['within_3s']} within 3 s")
    print(f"all: {meta['recovered']}/{meta['trials']} "
          f"({100 * (meta['rate'] or 0):.1f} %), median {meta['all_times_ms']['median']} ms, "
          f"worst {meta['all_times_ms']['worst']} ms")


if __name__ == "__main__":
    main()
