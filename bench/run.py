#!/usr/bin/env python3
"""Runs the benchmark suite and prints a markdown table. Every holepuncher
figure is a ratio to a raw recvmmsg/sendmmsg responder measured in the same
run, because absolute numbers drift on shared machines: just before and just
after it, in each round, again while those two disagree (RawBaselines.around;
the table has the median over rounds of the rounds' ratios).

    python3 bench/run.py [--smoke] [--seconds S] [--sessions N] [--rounds R]
                         [--python PY] [--json FILE] [--only PART,...]
                         [--record FILE | --no-record]

--smoke runs each part for a fraction of a second (CI checks the suite runs;
it asserts no speed). Server and load are pinned to different cores. --json
also writes every measurement, unrounded, to FILE. --only runs some of the
parts: holepuncher, memory, datapath, python, connect, natlab (the table
then has only their rows; natlab needs root, else it says it was skipped).

Every run but a --smoke one appends a record of itself (date, commit, the
machine, the settings and every figure of its table: make_record) to
bench/results/runs.jsonl, or to --record FILE; bench/report.py renders
docs/PERFORMANCE.md's tables from that file.
"""
import argparse
import glob
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import report  # noqa: E402  (the table's rows, as docs/PERFORMANCE.md has them)
WORKERS = max(2, os.cpu_count() or 1)
BASE_PORT = 10000 + os.getpid() % 1000 * 20  # below the ephemeral range; runs side by side differ
# Registers per second no holepuncher of ours reaches on one core (it sizes
# the table of the register run).
REGISTER_RATE_CEILING = 2_000_000
MISSED_KEEPALIVES = 3  # the default: a session lives 3 keepalive intervals
# Fresh memory a growing table faults in per new session: its 52-byte record
# and, over a doubling from C to 2C sessions, the next index's 4C slots of 4
# bytes: 16 bytes per new session (docs/PERFORMANCE.md, "Memory per session").
GROWING_BYTES_PER_SESSION = 52 + 16
FRESH_MEMORY_KEYS = ("ns_per_kib", "again_ns_per_kib")  # bench/fresh_memory.c's times
HELLO_REQ = b"\x00\x04\x00\x08"  # answered by every holepuncher, whatever its table holds


def build(out):
    """Compiles the benchmark programs with cc -O2 (the core from source)."""
    core = glob.glob(os.path.join(ROOT, "core", "src", "*.c"))
    inc = ["-I", os.path.join(ROOT, "core", "include")]
    steer = [os.path.join(ROOT, "core", "src", "steer.c")]
    bigarray = [os.path.join(ROOT, "core", "src", "bigarray.c")]
    progs = {"loadgen": [], "raw_echo": [], "fresh_memory": bigarray, "reuseport": steer,
             "hp_serve": core, "datapath": core, "connect_time": core}
    inc += ["-I", os.path.join(ROOT, "core", "src")]
    for name, extra in progs.items():
        subprocess.run(["cc", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", *inc, "-I", HERE,
                        os.path.join(HERE, f"{name}.c"), *extra, "-lpthread",
                        "-o", os.path.join(out, name)], check=True)
    # The command-line tool, for the NAT lab's peers and holepuncher.
    subprocess.run(["cc", "-O2", "-std=gnu11", "-I", os.path.join(ROOT, "core", "include"),
                    *glob.glob(os.path.join(ROOT, "cli", "*.c")), *core, "-lpthread",
                    "-o", os.path.join(out, "ruphin")], check=True)


def pinned(core, argv):
    return ["taskset", "-c", str(core), *argv] if (os.cpu_count() or 1) > 1 else argv


def rss_kb(pid):
    """The process's anonymous resident memory: its heap and mappings, where
    the table lives. Not VmRSS, which also counts the pages of shared
    libraries' code the process has run so far (libc's grew by 64 KiB
    between the start and the end of one memory measure)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError(f"no RssAnon for {pid}")


class Server:
    """A responder process (raw_echo or hp_serve) on core 0."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(pinned(0, argv), stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            self.close()
            raise RuntimeError(f"{argv[0]} did not start: {line!r}")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Daemon(Server):
    """`ruphin holepuncher` itself on core 0, its log thrown away (written,
    unless quiet, to /dev/null), with extra arguments if any (metrics_cost.py
    adds --metrics); served once it answers a HelloReq."""

    def __init__(self, bin_dir, port, sessions, quiet, extra=()):
        self.proc = subprocess.Popen(pinned(0, [
            os.path.join(bin_dir, "ruphin"), "holepuncher", "--listen", f"127.0.0.1:{port}",
            "--max-sessions", str(sessions), "--keepalive-ms", "600000", "--rate-limit", "0",
            "--no-amplification", "1", *(["--quiet"] if quiet else []), *extra]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.1)
            for _ in range(50):
                s.sendto(HELLO_REQ, ("127.0.0.1", port))
                try:
                    s.recv(16)
                    return
                except socket.timeout:
                    pass
        self.close()
        raise RuntimeError("ruphin holepuncher did not answer")


def table_room(sessions, seconds, runs=1):
    """A table bound with room for `sessions` filled ones, the refreshing
    sockets' own for each of `runs` refresh runs (each run its own) and
    every new id `runs` register runs of `seconds` (warm-up included) can
    send at well above the raw rate: a full table would refuse them."""
    return sessions * (1 + runs) + int(REGISTER_RATE_CEILING * (seconds + warmup(seconds)) * runs)


def daemon_register(bin_dir, port, seconds, sessions, quiet):
    """Register (new ids) served by `ruphin holepuncher` with `sessions` in
    its table (filled by a Join run first), as hp_serve's register run."""
    with Daemon(bin_dir, port, table_room(sessions, seconds), quiet) as hp:
        load(bin_dir, hp, port, "join", min(seconds, 0.5), sessions)
        return load(bin_dir, hp, port, "register", seconds)


def warmup(seconds):
    return min(0.5, seconds / 2)


def load(bin_dir, server, port, mode, seconds, sessions=0, owner_port=0, warm=None):
    """One loadgen run against a server; its JSON result."""
    argv = [os.path.join(bin_dir, "loadgen"), "--target", f"127.0.0.1:{port}", "--mode", mode,
            "--seconds", str(seconds), "--warmup", str(warmup(seconds) if warm is None else warm),
            "--sessions", str(sessions), "--owner-port", str(owner_port),
            "--server-pid", str(server.proc.pid)]
    out = subprocess.run(pinned(1, argv), capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen {mode} failed: {out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["cpu_us"] = result["server_cpu_s"] * 1e6 / max(result["answered"], 1)
    return result


# The raw runs just before and just after a measure must agree this closely
# for it to count: this machine's speed changes by a third and more within
# seconds, and a change during the measure is one no baseline corrects. A
# measure whose two raw runs drift further apart runs again, up to TRIES
# times in all; the steadiest try counts.
STEADY = 0.10
TRIES = 3


def drift(before, after):
    """How far apart two raw runs' rates are, relative to the larger."""
    return abs(after["rate"] - before["rate"]) / max(after["rate"], before["rate"], 1)


class RawBaselines:
    """Both raw responders (ports port, port + 1 with copies to port + 2),
    up and idle through a round, measured on demand around each measure
    that is compared with them (around). Their runs go to runs["raw"] and
    runs["raw2"]."""

    def __init__(self, bin_dir, port, seconds, runs):
        self.bin_dir, self.port, self.seconds, self.runs = bin_dir, port, seconds, runs
        self.last = None  # (two_datagrams, run): the latest run, when nothing ran after it
        self.raw = Server([os.path.join(bin_dir, "raw_echo"), "127.0.0.1", str(port)])
        try:
            self.raw2 = Server([os.path.join(bin_dir, "raw_echo"), "127.0.0.1", str(port + 1),
                                str(port + 2)])
        except Exception:
            self.raw.close()
            raise

    def measure(self, two_datagrams=False):
        if two_datagrams:
            result = load(self.bin_dir, self.raw2, self.port + 1, "hello", self.seconds,
                          owner_port=self.port + 2)
        else:
            result = load(self.bin_dir, self.raw, self.port, "hello", self.seconds)
        return self.record(result, two_datagrams)

    def record(self, result, two_datagrams):
        """Keeps a raw run in runs["raw"] or runs["raw2"], with its place
        among them ("position"), as the latest run."""
        same = self.runs.setdefault("raw2" if two_datagrams else "raw", [])
        result["position"] = len(same)
        same.append(result)
        self.last = (two_datagrams, result)
        return result

    def around(self, measure, two_datagrams=False):
        """measure() (a loadgen result) between a raw run before and one
        after, again while they differ by more than STEADY (TRIES times at
        most). The raw run before is the previous measure's after when it
        was the last run and of the same baseline (a round's measures all
        run through here). The steadiest try's result is returned with its
        baseline: "base_rate" and "base_cpu_us", the two runs' means, and
        "base_rates", "base_positions" (their places in the runs), "tries"."""
        last, tries = self.last, []
        before = last[1] if last is not None and last[0] == two_datagrams else \
            self.measure(two_datagrams)
        while not tries or (tries[-1][0] > STEADY and len(tries) < TRIES):
            self.last = None
            result = measure()
            after = self.measure(two_datagrams)
            tries.append((drift(before, after), result, before, after))
            before = after
        _, result, before, after = min(tries, key=lambda t: t[0])
        result["base_rate"] = (before["rate"] + after["rate"]) / 2
        result["base_cpu_us"] = (before["cpu_us"] + after["cpu_us"]) / 2
        result["base_rates"] = [before["rate"], after["rate"]]
        result["base_positions"] = [before["position"], after["position"]]
        result["tries"] = len(tries)
        return result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.raw.close()
        self.raw2.close()


def measured(runs, name, result, base=None):
    """Adds a measure's result to runs[name]; base, a run it is compared
    with, unless around() gave it its baseline already ("base_rate",
    "base_cpu_us"; median_run gives the ratios)."""
    if base is not None:
        result["base_rate"], result["base_cpu_us"] = base["rate"], base["cpu_us"]
    runs.setdefault(name, []).append(result)


def holepuncher_rates(bin_dir, seconds, sessions, rounds):
    """Both raw baselines and each request type, interleaved over a few rounds
    (a fresh holepuncher with `sessions` live sessions each round), each
    measure between two runs of its baseline (RawBaselines.around)."""
    runs, fresh = {}, []
    for r in range(rounds):
        port = BASE_PORT + r * 4
        with RawBaselines(bin_dir, port, seconds, runs) as raw:
            with Server([os.path.join(bin_dir, "reuseport"), "127.0.0.1", str(port + 2),
                         str(WORKERS)]) as group:  # one thread per core (core 1 shares the load)
                measured(runs, "workers", raw.around(
                    lambda: load(bin_dir, group, port + 2, "hello", seconds)))
            # Sessions outlive the round (no expiry while measuring).
            with Server([os.path.join(bin_dir, "hp_serve"), f"127.0.0.1:{port + 3}",
                         str(table_room(sessions, seconds, TRIES)), "600000"]) as hp:
                # Join fills the table; its owner's address is the same each
                # try (the two-datagram baseline's copy port, idle meanwhile),
                # so that a try again registers the same ids again.
                for mode, k in (("join", sessions), ("hello", 0), ("join-miss", 0),
                                ("refresh", sessions), ("register", 0)):
                    measured(runs, mode, raw.around(
                        lambda: counted(hp, lambda: load(
                            bin_dir, hp, port + 3, mode, seconds, k,
                            owner_port=port + 2 if mode == "join" else 0)),
                        two_datagrams=mode == "join"))
                # While hp_serve still holds its table: pages it frees at its
                # exit would make the next program's fresh memory cheap.
                fresh.append(fresh_memory(bin_dir))
            measured(runs, "register-level", raw.around(lambda: register_level(
                bin_dir, port + 3, seconds, sessions, runs["register"][-1]["rate"])))
            # What operators run: the program, quiet and logging every session.
            for name, quiet in (("daemon-quiet", True), ("daemon-logging", False)):
                measured(runs, name, raw.around(
                    lambda: daemon_register(bin_dir, BASE_PORT + 15 + r, seconds, sessions, quiet)))
        # The same holepuncher as a group of WORKERS on one port, a thread
        # (and core) each: how it scales, against one holepuncher's measure
        # of this round.
        group_port = BASE_PORT + 12 + r
        with Server([os.path.join(bin_dir, "hp_serve"), f"127.0.0.1:{group_port}",
                     str(sessions * 4), "600000", str(WORKERS)]) as group:
            for mode, k in (("join", sessions), ("hello", 0), ("join-miss", 0)):
                measured(runs, "group-" + mode,
                         load(bin_dir, group, group_port, mode, seconds, k), runs[mode][-1])
    out = {name: median_run(results) for name, results in runs.items()}
    out["fresh-memory"] = {key: statistics.median(r[key] for r in fresh)
                           for key in FRESH_MEMORY_KEYS}
    out["fresh-memory"]["rounds"] = fresh
    return out


def counted(hp, measure):
    """measure()'s result with hp_serve's live sessions after it ("live"):
    the table it ran against (a fill, part of the measure, adds to it), and
    before it ("live_before"), for what grows the table."""
    before = hp_stats(hp)["sessions"]
    result = measure()
    result["live_before"], result["live"] = before, hp_stats(hp)["sessions"]
    return result


def fresh_memory(bin_dir):
    """What faulting in new memory costs the machine now, on the server's
    core (bench/fresh_memory.c): ns per KiB, then again for pages just
    unmapped ("again_ns_per_kib")."""
    out = subprocess.run(pinned(0, [os.path.join(bin_dir, "fresh_memory")]),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def register_level(bin_dir, port, seconds, sessions, rate, hp_serve="hp_serve"):
    """Register (new ids) with as many sessions expiring as arrive: each
    lives just long enough (`sessions` / the growing run's `rate`) that the
    table holds about `sessions` once the first ones expire, and the measure
    starts then. The register row above grows the table instead (to several
    million: fresh memory to fault in and a larger index), which a
    holepuncher serving a steady population never does. The result has the
    live sessions counted at its end ("live") and every Register the
    holepuncher received, warm-up included ("received"). hp_serve: the
    server's file name in bin_dir (bench/compare.py runs two builds)."""
    life_s = min(max(sessions / max(rate, 1), 0.3), 30)
    keepalive_ms = max(1, round(life_s * 1000 / MISSED_KEEPALIVES))
    with Server([os.path.join(bin_dir, hp_serve), f"127.0.0.1:{port}", str(sessions * 4),
                 str(keepalive_ms)]) as hp:
        result = load(bin_dir, hp, port, "register", seconds, warm=life_s + warmup(seconds))
        stats = hp_stats(hp)
        result["live"], result["received"] = stats["sessions"], stats["rx"]
    return result


def median_run(results):
    """The run with the median rate, plus the median CPU per request and,
    for measures with a baseline, the medians of their rounds' ratios to it
    ("ratio": of rates, each round's in "ratios"; "cpu_ratio": of CPU per
    request)."""
    ordered = sorted(results, key=lambda r: r["rate"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["cpu_us"] = statistics.median(r["cpu_us"] for r in results)
    chosen["rates"] = [r["rate"] for r in results]
    if "tries" in chosen:
        chosen["tries_per_round"] = [r["tries"] for r in results]
    if "base_rate" in chosen:
        chosen["ratios"] = [r["rate"] / max(r["base_rate"], 1) for r in results]
        chosen["ratio"] = statistics.median(chosen["ratios"])
        chosen["cpu_ratio"] = statistics.median(r["cpu_us"] / max(r["base_cpu_us"], 1e-9)
                                                for r in results)
    return chosen


def hp_stats(hp):
    """hp_serve's counters (rx, tx, sessions), asked for with SIGUSR1."""
    hp.proc.send_signal(signal.SIGUSR1)
    words = hp.proc.stdout.readline().split()
    return dict(zip(words[1::2], map(int, words[2::2])))


def memory_per_session(bin_dir, sessions, port, keepalive_ms):
    """Resident bytes per live session after registering `sessions` 12-byte
    ids, and what is left once they expired (keepalive_ms * 3 later: the
    filling must take less than that)."""
    with Server([os.path.join(bin_dir, "hp_serve"), f"127.0.0.1:{port}", str(sessions * 2),
                 str(keepalive_ms)]) as hp:
        before = rss_kb(hp.proc.pid)
        load(bin_dir, hp, port, "hello", 0.1, sessions)
        full, live = rss_kb(hp.proc.pid), hp_stats(hp)["sessions"]
        if live < sessions:
            raise RuntimeError(f"only {live} of {sessions} sessions alive when measured: "
                               f"the filling took longer than their lifetime")
        time.sleep(keepalive_ms * 3 / 1000 + 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(HELLO_REQ, ("127.0.0.1", port))  # a poll that expires them
            s.settimeout(5)
            s.recv(16)
        time.sleep(0.2)
        after, left = rss_kb(hp.proc.pid), hp_stats(hp)["sessions"]
    return {"rss_before_kb": before, "rss_full_kb": full, "rss_after_kb": after,
            "live_sessions": live, "sessions_left": left,
            "bytes_per_session": (full - before) * 1024 / live, "left_kb": after - before}


PARTS = report.PARTS  # holepuncher, memory, datapath, python, connect, natlab
# Time to connect through real NATs (tests/natlab): the most common home NAT
# on both sides, at a one-way delay that dwarfs the machine's own latency.
NATLAB_PAIR, NATLAB_DELAY_MS = ("restricted", "restricted"), 20
DATAPATH_MODES = ("raw", "raw-gso", "api", "api1")
PYTHON_MODES = ("socket", "ruphin", "ruphin1")


def with_ratios(runs, base):
    """The median run of each mode, with the median over rounds of its rate
    divided by each base mode's rate in the same round ("ratio_to_raw")."""
    out = {}
    for mode, results in runs.items():
        chosen = dict(sorted(results, key=lambda r: r["rate"])[len(results) // 2])
        chosen["rates"] = [r["rate"] for r in results]
        for b in base:
            chosen[f"ratio_to_{b}"] = statistics.median(
                r["rate"] / max(b_run["rate"], 1) for r, b_run in zip(results, runs[b]))
        out[mode] = chosen
    return out


def datapath(bin_dir, seconds, rounds):
    """Each mode of bench/datapath.c at 64 and 1200 bytes, interleaved over
    rounds; ratios against the raw runs of the same round."""
    res = {}
    for size in (64, 1200):
        runs = {}
        for _ in range(rounds):
            for mode in DATAPATH_MODES:
                out = subprocess.run([os.path.join(bin_dir, "datapath"), mode, str(size),
                                      str(seconds)], capture_output=True, text=True, check=True,
                                     timeout=120).stdout
                runs.setdefault(mode, []).append(json.loads(out))
        for mode, run in with_ratios(runs, ("raw", "raw-gso")).items():
            res[f"{mode}-{size}"] = run
    return res


def python_package_missing(python):
    """Why the Python rows cannot run (no interpreter, no ruphin package), or None."""
    try:
        out = subprocess.run([python, "-c", "import ruphin"], capture_output=True, text=True,
                             timeout=60)
    except OSError as e:
        return str(e)
    return out.stderr.strip().splitlines()[-1] if out.returncode != 0 else None


def python_script(python, *argv):
    out = subprocess.run([python, os.path.join(HERE, argv[0]), *map(str, argv[1:])],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return json.loads(out)


def python_rates(python, seconds, rounds):
    missing = python_package_missing(python)
    if missing:
        return {"skipped": missing}
    runs = {}
    for _ in range(rounds):
        for mode in PYTHON_MODES:
            runs.setdefault(mode, []).append(
                python_script(python, "py_datapath.py", mode, 64, seconds))
    return with_ratios(runs, ("socket",))


def connect_time(bin_dir, trials):
    out = subprocess.run([os.path.join(bin_dir, "connect_time"), str(trials)],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return json.loads(out)


def natlab_connect(bin_dir, trials):
    """A client's start to its first echo through the NAT lab (needs root and
    network namespaces; else the reason it was skipped), against the floor of
    one round trip to the holepuncher plus one between the peers."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "natlab"))
    import lab as natlab  # noqa: E402  (the lab's own modules, as its tests use them)
    import matrix  # noqa: E402
    why = natlab.available()
    if why:
        return {"skipped": why}
    with tempfile.TemporaryDirectory() as helper:
        results = [matrix.trial(os.path.join(bin_dir, "ruphin"), *NATLAB_PAIR, NATLAB_DELAY_MS,
                                helper_dir=helper) for _ in range(trials)]
    echoes = [r.echo_ms for r in results if r.ok]
    return {"pair": NATLAB_PAIR, "delay_ms": NATLAB_DELAY_MS, "trials": trials, "ok": len(echoes),
            "echo_ms": statistics.median(echoes) if echoes else None,
            "floor_ms": matrix.floor_ms(NATLAB_PAIR, NATLAB_DELAY_MS)}


def summary(res, sessions):
    """What a run's record keeps of its measurements (bench/report.py renders
    the table from it): every figure the table shows, unrounded, with each
    round's ratios and tries where a measure has them."""
    out = {}
    if "holepuncher" in res:
        hp = res["holepuncher"]
        for name, r in hp.items():
            if name == "fresh-memory":
                continue
            s = {"rate": r["rate"], "cpu_us": r["cpu_us"]}
            if "ratio" in r:
                s.update(ratio=r["ratio"], cpu_ratio=r["cpu_ratio"], ratios=r["ratios"])
            if "tries_per_round" in r:
                s["tries"] = r["tries_per_round"]
            if "live" in r:
                s["sessions"] = r["live"]
            if name == "register":  # each new id adds one
                s["sessions_before"] = r["live_before"]
            if name.startswith("daemon-"):  # the table a Join run filled first
                s["sessions_before"] = sessions
            if name == "workers" or name.startswith("group-"):
                s["workers"] = WORKERS
            if name.startswith("group-"):
                s["sessions"] = sessions
            out[name] = s
        fresh = hp["fresh-memory"]
        per_session = {key: fresh[key] * GROWING_BYTES_PER_SESSION / 1024
                       for key in FRESH_MEMORY_KEYS}
        out["fresh-memory"] = {
            **{key: fresh[key] for key in FRESH_MEMORY_KEYS},
            "bytes_per_new_session": GROWING_BYTES_PER_SESSION,
            "ns_per_session": per_session["ns_per_kib"],
            "again_ns_per_session": per_session["again_ns_per_kib"],
            "share_of_raw_cpu": per_session["ns_per_kib"] / 1000 / hp["raw"]["cpu_us"]}
    if "memory" in res:
        mem = res["memory"]
        out["memory"] = {**mem, "sessions": sessions,
                         "left_share": mem["left_kb"] / max(mem["rss_full_kb"] -
                                                            mem["rss_before_kb"], 1)}
        out["memory"]["left_kib"] = out["memory"].pop("left_kb")
    if "datapath" in res:
        for size in (64, 1200):
            dp = {mode: res["datapath"][f"{mode}-{size}"] for mode in DATAPATH_MODES}
            raw = dp["raw"]
            for mode in DATAPATH_MODES:
                r = dp[mode]
                s = {"rate": r["rate"], "rates": r["rates"], "ratio_to_raw": r["ratio_to_raw"],
                     "ratio_to_raw_gso": r["ratio_to_raw-gso"],
                     "tx_cpu_us": r["tx_cpu_us"], "rx_cpu_us": r["rx_cpu_us"]}
                if mode != "raw":
                    s["tx_cpu_ratio"] = r["tx_cpu_us"] / raw["tx_cpu_us"]
                    s["rx_cpu_ratio"] = r["rx_cpu_us"] / raw["rx_cpu_us"]
                out[f"datapath-{mode}-{size}"] = s
    if "python" in res:
        py = res["python"]
        for mode in PYTHON_MODES:
            out["python-" + mode] = {"skipped": py["skipped"]} if "skipped" in py else \
                {"rate": py[mode]["rate"], "rates": py[mode]["rates"],
                 "ratio_to_socket": py[mode]["ratio_to_socket"]}
    if "connect" in res:
        out["connect"] = res["connect"]
    if "natlab" in res:
        out["natlab"] = res["natlab"]
    return out


def table(res, sessions):
    """The markdown table, from the measurements (of the parts that ran):
    bench/report.py's, as the doc has it."""
    return report.table({"results": summary(res, sessions)})


def git(*argv):
    """A git command's output in the checkout, or None (no git, no checkout)."""
    try:
        out = subprocess.run(["git", "-C", ROOT, *argv], capture_output=True, text=True,
                             timeout=30)
    except OSError:
        return None
    return out.stdout if out.returncode == 0 else None


def machine():
    """The machine's facts a record keeps (bench/README.md, "Results")."""
    facts = {"cpus": os.cpu_count(), "kernel": os.uname().release, "arch": os.uname().machine}
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        model = [line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")]
        if model:
            facts["cpu_model"] = model[0]
        flags = [line for line in info.splitlines() if line.startswith("flags")]
        facts["virtual_machine"] = bool(flags) and " hypervisor" in flags[0]
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            release = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        facts["os"] = release.get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            facts["mem_total_kib"] = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return facts


def checkout():
    """The commit the build reads and the files under core/, cli/ and bench/
    (but bench/results/, which no build reads) that differ from it: taken
    before the build, as others may commit or edit while a run goes on."""
    changed = sorted(line[3:] for line in
                     (git("status", "--porcelain", "--", "core", "cli", "bench") or "").splitlines()
                     if not line[3:].startswith("bench/results"))
    return {"commit": (git("rev-parse", "HEAD") or "").strip() or None, "changed": changed}


def make_record(res, args, argv, started, seconds_taken, code):
    """A run's record for bench/results/runs.jsonl: when, which code (code:
    checkout() before the build), where, how, and summary() of what it
    measured."""
    record = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), **code,
              "source": "bench/run.py",
              "command": " ".join(["bench/run.py", *argv]),
              "parts": args.only.split(","),
              "settings": {"seconds": args.seconds, "rounds": args.rounds,
                           "sessions": args.sessions, "smoke": args.smoke},
              "machine": {**machine(), "loadavg_before": res["machine"]["loadavg_before"],
                          "loadavg_after": res["machine"]["loadavg_after"]},
              "duration_s": round(seconds_taken)}
    if "holepuncher" in res:
        hp = res["holepuncher"]
        record["raw_range"] = [min(hp["raw"]["rates"]), max(hp["raw"]["rates"])]
        tries = [t for run in hp.values() for t in run.get("tries_per_round", [])]
        record["reran"] = {"measures": sum(t > 1 for t in tries), "of": len(tries),
                           "extra_runs": sum(tries) - len(tries)}
    record["results"] = summary(res, args.sessions)
    return record


def append_record(path, record):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--seconds", type=float, default=report.DEFAULTS["seconds"])
    ap.add_argument("--sessions", type=int, default=report.DEFAULTS["sessions"])
    ap.add_argument("--rounds", type=int, default=report.DEFAULTS["rounds"])
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--json")
    ap.add_argument("--record", help="append the run's record to this file (default: "
                    "bench/results/runs.jsonl, except with --smoke)")
    ap.add_argument("--no-record", action="store_true", help="append no record")
    ap.add_argument("--only", default=",".join(PARTS),
                    help="comma-separated parts to run: " + ", ".join(PARTS))
    args = ap.parse_args()
    only = args.only.split(",")
    if not set(only) <= set(PARTS):
        ap.error(f"--only takes {', '.join(PARTS)}")
    if args.smoke:
        args.seconds, args.sessions, args.rounds = 0.3, 20000, 1
    record_to = None if args.no_record else args.record or (None if args.smoke else report.RESULTS)
    started, code = time.time(), checkout()
    res = {"machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname()),
                       "loadavg_before": open("/proc/loadavg").read().split()[:3]},
           "args": vars(args)}
    with tempfile.TemporaryDirectory() as bin_dir:
        build(bin_dir)
        if "holepuncher" in only:
            res["holepuncher"] = holepuncher_rates(bin_dir, args.seconds, args.sessions,
                                                   args.rounds)
        if "memory" in only:
            # Sessions live 30 s: filling a million took 13-17 s on a loaded 2-core VM.
            res["memory"] = memory_per_session(bin_dir, args.sessions, BASE_PORT + 19,
                                               1000 if args.smoke else 10000)
        if "datapath" in only:
            res["datapath"] = datapath(bin_dir, args.seconds, args.rounds)
        if "python" in only:
            res["python"] = python_rates(args.python, args.seconds, args.rounds)
        if "connect" in only:
            res["connect"] = connect_time(bin_dir, 10 if args.smoke else 200)
        if "natlab" in only:
            res["natlab"] = natlab_connect(bin_dir, 1 if args.smoke else 10)
    res["machine"]["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    print(table(res, args.sessions))
    print(f"\nload average before {' '.join(res['machine']['loadavg_before'])}, "
          f"after {' '.join(res['machine']['loadavg_after'])}")
    if "holepuncher" in res:
        tries = [t for run in res["holepuncher"].values() for t in run.get("tries_per_round", [])]
        print(f"holepuncher measures run again because their raw runs before and after were "
              f"more than {STEADY:.0%} apart: {sum(t > 1 for t in tries)} of {len(tries)} "
              f"({sum(tries) - len(tries)} extra runs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if record_to:
        append_record(record_to, make_record(res, args, sys.argv[1:], started,
                                             time.time() - started, code))
        print(f"recorded in {os.path.relpath(record_to)} (bench/report.py renders it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
