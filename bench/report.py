#!/usr/bin/env python3
"""Renders docs/PERFORMANCE.md's tables from the runs bench/run.py recorded
(bench/results/runs.jsonl, one JSON record a line, oldest first).

    python3 bench/report.py            # print every generated section
    python3 bench/report.py --write    # put them into docs/PERFORMANCE.md
    python3 bench/report.py --check    # exit 1 if the doc differs from them

Each section lives in the doc between `<!-- report.py: NAME -->` and
`<!-- /report.py: NAME -->`; --write replaces what is between, nothing else.
The sections: "current" (the latest full run: its machine and its table, the
same table run.py printed), "history" (each run's holepuncher ratios),
"targets" (where each target stands in the latest full run and across the
recorded runs of the same code generation). tests/bench/test_report.py fails
when the doc's sections differ from what this renders.

bench/run.py writes a table with the same functions (table()), so the doc's
table is the one a run prints.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results", "runs.jsonl")
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")
PARTS = ("holepuncher", "memory", "datapath", "python", "connect", "natlab")
DEFAULTS = {"seconds": 3.0, "rounds": 3, "sessions": 1000000}  # bench/run.py's
DATAPATH_SIZES = (64, 1200)
NATLAB_DELAY_MS = 20
# The holepuncher's request types in the order of the history table, with
# their column names.
HISTORY = (("hello", "HelloReq"), ("register", "Register growing"),
           ("register-level", "Register level"), ("daemon-quiet", "`--quiet`"),
           ("daemon-logging", "logging"), ("refresh", "refresh"), ("join", "Join found"),
           ("join-miss", "Join not found"))
# The targets (docs/PERFORMANCE.md, "Targets"): every request type at 0.9 x
# the raw responder or more with a million live sessions (for Register of
# new ids that is the level population: the growing run's table holds two
# million and more), and at most 64 bytes of memory per session.
RATIO_TARGET = 0.9
MEMORY_TARGET = 64
TARGETS = (("hello", "HelloReq"), ("register-level", "Register (new ids), level population"),
           ("refresh", "Register (refresh)"), ("join", "Join (found)"),
           ("join-miss", "Join (not found)"))
# The first commit of the session table's current design (a removal moves no
# record): the "targets" section's range covers the runs since.
GENERATION = "9ad956f"
HISTORY_ROWS = 10  # the doc stays short; the file keeps every run


def load(path=RESULTS):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def is_full(record):
    """A run of the whole suite (not --only) at the default settings (not
    --smoke; a backfilled record that gives no settings is taken at the
    doc's word)."""
    settings = record.get("settings", {})
    return set(record.get("parts", ())) >= set(PARTS) and not settings.get("smoke") and \
        all(settings.get(key, value) == value for key, value in DEFAULTS.items())


def latest_full(records):
    full = [r for r in records if is_full(r)]
    if not full:
        raise SystemExit("no full run recorded")
    return full[-1]


def cpu(r):
    return f"{r['cpu_us']:.2f} us ({r['cpu_ratio']:.2f} x)"


def holepuncher_rows(res):
    if "raw" not in res:
        return []
    rows = [f"| raw responder, HelloReq answered/s | {res['raw']['rate']:,.0f} | 1.00 | "
            f"{res['raw']['cpu_us']:.2f} us |",
            f"| raw responder, two datagrams per answer/s | {res['raw2']['rate']:,.0f} | 1.00 | "
            f"{res['raw2']['cpu_us']:.2f} us |"]
    w = res["workers"]
    rows.append(f"| raw responder, {w['workers']} SO_REUSEPORT workers steered by id, HelloReq/s "
                f"| {w['rate']:,.0f} | {w['ratio']:.2f} x one worker | {cpu(w)} |")

    def row(name, r, which="raw"):
        rows.append(f"| {name} | {r['rate']:,.0f} | {r['ratio']:.2f} x {which} | {cpu(r)} |")

    row(f"holepuncher, HelloReq/s, {res['hello']['sessions']:,} sessions", res["hello"])
    reg = res["register"]
    row(f"holepuncher, Register (new ids)/s, table growing from {reg['sessions_before']:,} to "
        f"{reg['sessions']:,} sessions", reg)
    row(f"holepuncher, Register (new ids) as others expire/s, level "
        f"{res['register-level']['sessions']:,} sessions", res["register-level"])
    row(f"`ruphin holepuncher --quiet`, Register (new ids)/s, table growing from "
        f"{res['daemon-quiet']['sessions_before']:,} sessions", res["daemon-quiet"])
    row(f"`ruphin holepuncher` logging each session (to /dev/null), Register (new ids)/s, table "
        f"growing from {res['daemon-logging']['sessions_before']:,} sessions",
        res["daemon-logging"])
    fresh = res["fresh-memory"]
    rows.append(f"| fresh memory a growing table faults in, per new session "
                f"({fresh['bytes_per_new_session']} B) | {fresh['ns_per_session']:.0f} ns "
                f"({fresh['again_ns_per_session']:.0f} ns for pages just freed) | "
                f"{fresh['share_of_raw_cpu']:.3f} of a raw request's server CPU | |")
    row(f"holepuncher, Register (refresh)/s, {res['refresh']['sessions']:,} sessions",
        res["refresh"])
    row(f"holepuncher, Join (found)/s, {res['join']['sessions']:,} sessions", res["join"],
        "raw two-datagram")
    row(f"holepuncher, Join (not found)/s, {res['join-miss']['sessions']:,} sessions",
        res["join-miss"])
    for mode, name in (("hello", "HelloReq"), ("join", "Join (found)"),
                       ("join-miss", "Join (not found)")):
        g = res["group-" + mode]
        row(f"holepuncher, {g['workers']} workers, {name}/s, {g['sessions']:,} sessions", g,
            "one holepuncher")
    return rows


def memory_rows(res):
    if "memory" not in res:
        return []
    mem = res["memory"]
    return [f"| resident memory per session ({mem['sessions']:,} x 12-byte ids) | "
            f"{mem['bytes_per_session']:.1f} B | | |",
            f"| resident memory left after they expired | {mem['left_kib']:,} KiB | "
            f"{mem['left_share']:.3f} of the peak | |"]


def datapath_rows(res):
    rows = []
    for size in DATAPATH_SIZES:
        for mode, name in (("api", "through the API (send_batch, poll_batch)"),
                           ("api1", "through the API, one send and one poll a datagram")):
            r = res.get(f"datapath-{mode}-{size}")
            if r is None:
                continue
            ratio = f"{r['ratio_to_raw']:.2f} x raw sendmmsg/recvmmsg"
            if mode == "api":
                ratio += f" ({r['ratio_to_raw_gso']:.2f} x raw with GSO)"
            rows.append(f"| data path {name}, {size} B datagrams/s | {r['rate']:,.0f} | {ratio} | "
                        f"send {r['tx_cpu_us']:.2f} us ({r['tx_cpu_ratio']:.2f} x), receive "
                        f"{r['rx_cpu_us']:.2f} us ({r['rx_cpu_ratio']:.2f} x) |")
    return rows


def python_rows(res):
    rows = []
    for mode, name in (("ruphin", "send_many, poll_many"),
                       ("ruphin1", "one send() and one poll() a datagram")):
        r = res.get("python-" + mode)
        if r is None:
            continue
        head = f"| data path through the Python package ({name}), 64 B/s |"
        if "skipped" in r:
            rows.append(f"{head} skipped | {r['skipped']} | |")
        else:
            rows.append(f"{head} {r['rate']:,.0f} | {r['ratio_to_socket']:.2f} x Python socket | |")
    return rows


def connect_rows(res):
    ttc = res.get("connect")
    if ttc is None:
        return []
    return [f"| client start to {what} on loopback (median of {ttc['trials']}) | "
            f"{ttc[key + '_ms']:.3f} ms | {ttc[key + '_rtts']:.2f} x round trip "
            f"({ttc['rtt_floor_ms']:.3f} ms) | |"
            for key, what in (("connected", "CONNECTED"), ("echo", "first echo"))]


def natlab_rows(res):
    lab = res.get("natlab")
    if lab is None:
        return []
    name = (f"client start to first echo through two port-restricted NATs, "
            f"{lab.get('delay_ms', NATLAB_DELAY_MS)} ms one-way (NAT lab)")
    if "skipped" in lab:
        return [f"| {name} | skipped | {lab['skipped']} | |"]
    if lab["echo_ms"] is None:
        return [f"| {name} | no trial of {lab['trials']} connected | | |"]
    return [f"| {name}, median of {lab['ok']} of {lab['trials']} trials | {lab['echo_ms']:g} ms | "
            f"{lab['echo_ms'] / lab['floor_ms']:.2f} x the floor ({lab['floor_ms']} ms) | |"]


ROWS = {"holepuncher": holepuncher_rows, "memory": memory_rows, "datapath": datapath_rows,
        "python": python_rows, "connect": connect_rows, "natlab": natlab_rows}


def table(record):
    """The markdown table of a run's results (of the parts it holds)."""
    lines = ["| measure | value | ratio | server CPU per request |", "|---|---|---|---|"]
    for part in PARTS:
        lines += ROWS[part](record["results"])
    return "\n".join(lines)


def short(commit):
    return commit[:7] if commit else "?"


def run_name(record):
    """A run as the doc names it: its date (where known) and commit."""
    date = record.get("date", "")[:10]
    return f"{date} {short(record.get('commit'))}".strip()


def describe(record):
    """A sentence on where and how a run ran, from its record."""
    m = record.get("machine", {})
    s = record.get("settings", {})
    parts = [f"Run {run_name(record)} (`{record['command']}`"]
    if s:
        parts[0] += (f": {s['rounds']} round{'s' if s['rounds'] != 1 else ''} of "
                     f"{s['seconds']:g} s per measure, {s['sessions']:,} sessions")
    if record.get("duration_s"):
        parts[0] += f"; {record['duration_s'] / 60:.0f} min"
    parts[0] += ")"
    if m:
        kernel = m.get("kernel")
        if kernel and not kernel.startswith("Linux"):
            kernel = "Linux " + kernel
        where = ", ".join(x for x in (m.get("cpu_model"), f"{m['cpus']} CPUs" if "cpus" in m
                                      else None, kernel, m.get("os")) if x)
        parts.append(f"on {where}")
    if m.get("loadavg_before"):
        load = f"load average {' '.join(m['loadavg_before'])} before"
        if m.get("loadavg_after"):
            load += f", {' '.join(m['loadavg_after'])} after"
        parts.append(load)
    text = ", ".join(parts) + "."
    if record.get("raw_range"):
        lo, hi = record["raw_range"]
        text += f" The raw responder's runs answered {lo:,.0f}-{hi:,.0f} HelloReq/s"
        if record.get("reran"):
            rr = record["reran"]
            text += (f"; {rr['measures']} of {rr['of']} holepuncher measures ran again "
                     f"because the machine changed speed during them")
        text += "."
    if record.get("changed"):
        text += (" The checkout differed from the commit in "
                 + ", ".join(f"`{p}`" for p in record["changed"]) + ".")
    if record["source"] != "bench/run.py":
        text += f" ({record['source']}.)"
    return text


def current(records):
    record = latest_full(records)
    return describe(record) + "\n\n" + table(record)


def history(records):
    """One row per recorded run with holepuncher ratios since GENERATION,
    the last HISTORY_ROWS of them: the raw responder's rate and each request
    type's median ratio to it (the file has the runs before)."""
    head = "| run | raw HelloReq/s | " + " | ".join(name for _, name in HISTORY) + " |"
    lines = [head, "|" + "---|" * (len(HISTORY) + 2)]
    rows = [r for r in since_generation(records) if "hello" in r["results"]]
    for record in rows[-HISTORY_ROWS:]:
        res = record["results"]
        what = "full" if is_full(record) else "part"
        if record["source"] != "bench/run.py":
            what += ", old doc"
        cells = [f"{res[k]['ratio']:.2f}" if k in res else "" for k, _ in HISTORY]
        rate = f"{res['raw']['rate']:,.0f}" if "raw" in res else ""
        lines.append(f"| {run_name(record)} ({what}) | {rate} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def since_generation(records):
    """The records of runs at GENERATION or after it, in the file's order
    (the first record at GENERATION and every one after it)."""
    for i, record in enumerate(records):
        if (record.get("commit") or "").startswith(GENERATION):
            return records[i:]
    return []


def span_of(values, fmt):
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"


def targets(records):
    """Where the targets stand: the latest full run, and the range over the
    runs recorded since GENERATION."""
    latest = latest_full(records)["results"]
    recent = since_generation(records)
    lines = [f"| target | latest full run | range over the {len(recent)} runs since "
             f"{GENERATION} | runs that miss it |", "|---|---|---|---|"]
    for key, name in TARGETS:
        ratios = [r["results"][key]["ratio"] for r in recent if key in r["results"]]
        low = sum(x < RATIO_TARGET for x in ratios)
        which = "raw two-datagram" if key == "join" else "raw"
        now = f"{latest[key]['ratio']:.2f}"
        if key == "register-level":  # the population it held (a million is the target's)
            now += f" at {latest[key]['sessions']:,} sessions"
        lines.append(f"| {name} >= {RATIO_TARGET} x {which} | {now} | "
                     f"{span_of(ratios, '.2f')} | {low} of {len(ratios)} |")
    mems = [r["results"]["memory"]["bytes_per_session"] for r in recent
            if "memory" in r["results"]]
    high = sum(x > MEMORY_TARGET for x in mems)
    span = span_of(mems, ".1f") + " B" if mems else "none recorded"
    lines.append(f"| memory per session at a million <= {MEMORY_TARGET} B | "
                 f"{latest['memory']['bytes_per_session']:.1f} B | {span} | "
                 f"{high} of {len(mems)} |")
    return "\n".join(lines)


SECTIONS = {"current": current, "history": history, "targets": targets}


def marked(name):
    return re.compile(rf"(<!-- report\.py: {name} -->\n)(.*?)(<!-- /report\.py: {name} -->)",
                      re.S)


def render(records):
    return {name: f(records) for name, f in SECTIONS.items()}


def in_doc(doc_text):
    """The doc's generated sections as they stand (None for a missing one)."""
    out = {}
    for name in SECTIONS:
        m = marked(name).search(doc_text)
        out[name] = m.group(2).strip("\n") if m else None
    return out


def write(doc_text, sections):
    for name, text in sections.items():
        pattern = marked(name)
        if not pattern.search(doc_text):
            raise SystemExit(f"docs/PERFORMANCE.md has no '<!-- report.py: {name} -->' section")
        doc_text = pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(3), doc_text)
    return doc_text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--doc", default=DOC)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = ap.parse_args()
    sections = render(load(args.results))
    if args.write or args.check:
        with open(args.doc) as f:
            text = f.read()
        if args.check:
            stale = [n for n, t in in_doc(text).items() if t != sections[n]]
            if stale:
                print(f"{args.doc}: not what bench/report.py renders from {args.results}: "
                      f"{', '.join(stale)} (run bench/report.py --write)", file=sys.stderr)
                return 1
            return 0
        with open(args.doc, "w") as f:
            f.write(write(text, sections))
        return 0
    for name, text in sections.items():
        print(f"<!-- report.py: {name} -->\n{text}\n<!-- /report.py: {name} -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
