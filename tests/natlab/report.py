#!/usr/bin/env python3
"""Renders docs/NAT.md's tables from the NAT lab's recorded runs.

    python3 tests/natlab/report.py             # print every generated section
    python3 tests/natlab/report.py --write     # put them into docs/NAT.md
    python3 tests/natlab/report.py --check     # exit 1 if the doc differs from them
    python3 tests/natlab/report.py --add-matrix REPORT.md [--note TEXT]
                                   # record a run from `matrix.py --markdown REPORT.md`

The data:

- tests/natlab/results/matrix_runs.json: one record per run of matrix.py,
  oldest first (the backfilled ones from the doc's old run history, marked
  `backfilled from docs/NAT.md at COMMIT`; the rest added by --add-matrix
  from the report matrix.py wrote). A record holds the command, the commit
  the binaries were built at, trials, delays, loss, whether the holepuncher
  relayed, and one row per pair and condition (trials, those with an echo
  ("ok", matrix.py's "connected" column), their paths, median ms to connect
  and to the first echo, the floor); a record of a run the doc only
  summarized has an "outcome" instead of rows.
- tests/natlab/recovery_results.json, written by recovery.py.
- tests/natlab/results/recovery_runs.json and mapping_lifetime_runs.json:
  earlier runs the doc told of (not rendered; cited by the doc).

Each section lives in the doc between `<!-- report.py: NAME -->` and
`<!-- /report.py: NAME -->`; --write replaces what is between, nothing else.
The sections: "matrix-runs" (the runs the tables show), "matrix-connected"
(per pair: trials with an echo, their paths, the median time at 20 ms),
"matrix-conditions" (per delay and loss), "targets" (issue 3's, judged by
matrix.check_targets), "recovery" (recovery_results.json). The matrix
sections show, for each pair and condition, the row of the latest complete
run (every field, the default session id, MIN_TRIALS trials or more): a
short or partial run is recorded but replaces nothing.
tests/natlab/test_nat_report.py fails when the doc's sections differ from
what this renders.
"""
import argparse
import collections
import json
import os
import re
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import lab as natlab  # noqa: E402
import matrix  # noqa: E402

DOC = os.path.join(ROOT, "docs", "NAT.md")
RESULTS = os.path.join(HERE, "results")
MATRIX_RUNS = os.path.join(RESULTS, "matrix_runs.json")
RECOVERY = os.path.join(HERE, "recovery_results.json")
ROW_KEYS = ("server", "client", "delay_ms", "loss", "trials", "ok", "direct", "lan", "relay",
            "connect_ms", "echo_ms", "floor_ms", "failure")
IMPORTED = "tests/natlab/matrix.py --markdown, added by tests/natlab/report.py --add-matrix"
ORDER = natlab.KINDS + natlab.PORTMAP_KINDS + [natlab.SAME_NAT]
CHANGES = {"client-rebind": "the client's router rebinds",
           "server-rebind": "the server's router rebinds",
           "both-rebind": "both routers rebind",
           "client-reboot": "the client's router reboots",
           "server-reboot": "the server's router reboots",
           "client-address": "the client's host changes address"}
TIMES_AT = (20, 0.0)  # the times in the matrix: 20 ms one-way, no loss
MIN_TRIALS = 20  # runs with fewer trials per pair are recorded, not shown


# -- the data files --

def load(path=MATRIX_RUNS):
    with open(path) as f:
        return json.load(f)


def dumps(obj, indent=0):
    """JSON as the results files keep it: objects one key a line, lists of
    scalars and each row of a run (an object with a "server") on one line."""
    pad = " " * indent
    if isinstance(obj, dict) and "server" not in obj and obj:
        return "{\n" + ",\n".join(f"{pad} {json.dumps(k)}: {dumps(v, indent + 1)}"
                                  for k, v in obj.items()) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(x, (dict, list)) for x in obj):
        return "[\n" + ",\n".join(pad + " " + dumps(x, indent + 1) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def save(data, path=MATRIX_RUNS):
    with open(path, "w") as f:
        f.write(dumps(data) + "\n")


def fmt(value):
    return "-" if value is None else f"{value:g}"


def short(commit):
    return commit[:7] if commit else "?"


def pair_name(pair):
    return f"{pair[0]}/{pair[1]}"


# -- which runs are current --

def complete(record):
    """A run the tables can show: a commit, rows with every field, the
    default session id (a longer one is a measure of its own) and at least
    MIN_TRIALS trials per pair."""
    return bool(record.get("commit") and record.get("rows")
                and all(set(ROW_KEYS) <= set(row) for row in record["rows"])
                and record.get("session", matrix.SESSION) == matrix.SESSION
                and min(row["trials"] for row in record["rows"]) >= MIN_TRIALS)


def current(runs):
    """(the runs shown, {(server, client, delay_ms, loss): row}): for each
    pair and condition the row of the latest complete run that has it."""
    rows, source = {}, {}
    for i, record in enumerate(runs):
        if complete(record):
            for row in record["rows"]:
                key = (row["server"], row["client"], row["delay_ms"], float(row["loss"]))
                rows[key], source[key] = row, i
    if not rows:
        raise SystemExit("no complete matrix run recorded")
    return [runs[i] for i in sorted(set(source.values()))], rows


def scan(pair):
    """Pairs whose direct path is the port scan's: a symmetric NAT on one
    side and no peer without NAT (docs/NAT.md). matrix.py counts it as direct."""
    return any(k in natlab.SYMMETRIC_KINDS for k in pair) and "public" not in pair


def kinds_in(rows, index):
    seen = {key[index] for key in rows}
    return [k for k in ORDER if k in seen]


# -- the sections --

def matrix_runs(runs):
    chosen, rows = current(runs)
    lines = [f"From `tests/natlab/results/matrix_runs.json`, the latest run of each pair and "
             f"condition with {MIN_TRIALS} trials or more:", ""]
    for r in chosen:
        shown = {(row["server"], row["client"]) for row in r["rows"]
                 if any(row is v for v in rows.values())}
        lines.append(f"- {short(r['commit'])}, {len(shown)} pairs: "
                     f"`{r['command'] or '(no command recorded)'}`")
    return "\n".join(lines)


def pivot(rows, cell):
    servers, clients = kinds_in(rows, 0), kinds_in(rows, 1)
    lines = ["| server \\ client | " + " | ".join(clients) + " |",
             "|---|" + "---|" * len(clients)]
    for s in servers:
        cells = [cell((s, c), [row for key, row in rows.items() if key[:2] == (s, c)])
                 for c in clients]
        lines.append(f"| **{s}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def connected_cell(pair, rows):
    """Trials with an echo / trials and their paths, over every condition;
    then the median ms to the first echo at TIMES_AT."""
    if not rows:
        return ""
    at = [r for r in rows if (r["delay_ms"], float(r["loss"])) == TIMES_AT]
    time = f"; {fmt(at[0]['echo_ms'])}" if at else ""
    return counts(pair, rows) + time


def counts(pair, rows):
    ok, n = sum(r["ok"] for r in rows), sum(r["trials"] for r in rows)
    paths = collections.Counter()
    for r in rows:
        for path in ("direct", "lan", "relay"):
            paths[path] += r[path]
    names = {"direct": "scan" if scan(pair) else "direct", "lan": "LAN", "relay": "relay"}
    used = [(names[p], paths[p]) for p in ("direct", "lan", "relay") if paths[p]]
    if len(used) == 1 and used[0][1] == ok:
        return f"{ok}/{n} {used[0][0]}"
    return f"{ok}/{n}: " + ", ".join(f"{count} {name}" for name, count in used)


def matrix_connected(runs):
    _, rows = current(runs)
    return pivot(rows, connected_cell)


def groups(rows):
    """{(delay, loss): {group: [(pair, row)]}} with the groups "no symmetric"
    (the same NAT included) and "symmetric"."""
    out = collections.OrderedDict()
    for key in sorted(rows, key=lambda k: (k[2], k[3])):
        pair = key[:2]
        group = "symmetric" if matrix.symmetric_in(pair) else "none"
        out.setdefault(key[2:], collections.OrderedDict()).setdefault(group, []).append(
            (pair, rows[key]))
    return out


def matrix_conditions(runs):
    _, rows = current(runs)
    lines = ["| delay, loss | pairs | echoed | paths | median ms to first echo (range) | "
             "floor ms |", "|---|---|---|---|---|---|"]
    for (delay, loss), by_group in groups(rows).items():
        for group in ("none", "symmetric"):
            members = by_group.get(group)
            if not members:
                continue
            rs = [r for _, r in members]
            ok, n = sum(r["ok"] for r in rs), sum(r["trials"] for r in rs)
            paths = collections.Counter({"direct": 0, "scan": 0, "LAN": 0, "relay": 0})
            for pair, r in members:
                paths["scan" if scan(pair) else "direct"] += r["direct"]
                paths["LAN"] += r["lan"]
                paths["relay"] += r["relay"]
            used = ", ".join(f"{v} {k}" for k, v in paths.items() if v)
            apart = [r for p, r in members if p[0] != natlab.SAME_NAT]
            same = [r for p, r in members if p[0] == natlab.SAME_NAT]
            times = [r["echo_ms"] for r in apart if r["echo_ms"] is not None]
            span = f"{fmt(min(times))}-{fmt(max(times))}" if times else "-"
            floor = ", ".join(dict.fromkeys(str(r["floor_ms"]) for r in apart))
            if same:
                span += f" (same NAT {fmt(same[0]['echo_ms'])})"
                floor += f" (same NAT {same[0]['floor_ms']})"
            what = f"{len(members)} {'without' if group == 'none' else 'with'} symmetric NAT"
            lines.append(f"| {delay} ms, {loss:g} | {what} | {ok}/{n} | {used} | {span} | "
                         f"{floor} |")
    return "\n".join(lines)


def targets(runs):
    """Issue 3's targets as matrix.py judges them (check_targets), over the
    current rows."""
    _, rows = current(runs)
    by_condition = collections.OrderedDict()
    for key in sorted(rows, key=lambda k: (k[2], k[3])):
        r = rows[key]
        s = {"ok": r["ok"], "n": r["trials"], "echo": r["echo_ms"],
             "paths": collections.Counter({p: r[p] for p in ("direct", "lan", "relay") if r[p]})}
        by_condition.setdefault((key[2], key[3]), []).append((key[:2], s))
    lines = []
    for name, met, misses in matrix.check_targets(by_condition):
        line = f"- {'MET' if met else 'NOT MET'}: {name}"
        if not met:
            names = list(dict.fromkeys(m.split(" @")[0] for m in misses))
            if all(matrix.symmetric_in(n.split("/")) for n in names):
                line += f" ({len(names)} pairs miss it, all with a symmetric NAT)"
            else:
                line += f" (misses: {', '.join(names)})"
        lines.append(line)
    return "\n".join(lines)


def recovery(_runs, path=RECOVERY):
    with open(path) as f:
        data = json.load(f)
    meta, summary = data["meta"], data["summary"]
    losses = list(dict.fromkeys(r["loss"] for r in summary))
    command = meta["command"].split(" (")[0]
    command = re.sub(r"^/usr/bin/python3 ", "python3 ", command)
    within = sum(r["within_3s"] for r in summary)
    lines = [f"`{command}` at commit {meta['commit']}, {meta['date']} "
             f"(`tests/natlab/recovery_results.json`; every trial in "
             f"`tests/natlab/recovery_results.csv`): {meta['recovered']} of {meta['trials']} "
             f"recovered, {within} within 3 s, median {fmt(meta['all_times_ms']['median'])} ms, "
             f"worst {fmt(meta['all_times_ms']['worst'])} ms.", "",
             "| change | " + " | ".join(f"loss {loss:g}: recovered, median, worst ms"
                                       for loss in losses) + " |",
             "|---|" + "---|" * len(losses)]
    for change in dict.fromkeys(r["change"] for r in summary):
        cells = []
        for loss in losses:
            r = [x for x in summary if x["change"] == change and x["loss"] == loss]
            cells.append(f"{r[0]['recovered']}/{r[0]['trials']}, {fmt(r[0]['median_ms'])}, "
                         f"{fmt(r[0]['worst_ms'])}" if r else "")
        lines.append(f"| {CHANGES.get(change, change)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SECTIONS = {"matrix-runs": matrix_runs, "matrix-connected": matrix_connected,
"matrix-conditions": matrix_conditions,
            "targets": targets, "recovery": recovery}


def render(runs):
    return {name: f(runs) for name, f in SECTIONS.items()}


def marked(name):
    return re.compile(rf"(<!-- report\.py: {name} -->\n)(.*?)(<!-- /report\.py: {name} -->)",
                      re.S)


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
            raise SystemExit(f"docs/NAT.md has no '<!-- report.py: {name} -->' section")
        doc_text = pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(3), doc_text)
    return doc_text


# -- recording a run from matrix.py's report --

HEADER = re.compile(r"^`(?P<argv>[^`]*)`: (?P<trials>\d+) trials per pair, (?P<version>.*) at "
                    r"commit (?P<commit>\S+), (?P<date>\d{4}-\d\d-\d\d), kernel (?P<kernel>\S+)\.$")
CONDITION = re.compile(r"^One-way delay (\d+) ms, loss ([\d.e-]+) per internet edge")
ROW = re.compile(r"^\| (\S+) \| (\S+) \| (\d+)/(\d+) \(\d+%\) \| (\d+) / (\d+) / (\d+) \| "
                 r"(\S+) \| (\S+) \| (\d+) \| (.*?) ?\|$")


def number(text):
    if text == "-":
        return None
    value = float(text)
    return int(value) if value == int(value) else value


def parse_report(text):
    """A record from the markdown report matrix.py writes (--markdown)."""
    lines = text.splitlines()
    head = HEADER.match(lines[0]) if lines else None
    if not head:
        raise ValueError("not a matrix.py report: no header line")
    argv = shlex.split(head["argv"])
    for local in ("--markdown", "--logs", "--ruphin"):  # paths of the machine that ran it
        while local in argv[:-1]:
            at = argv.index(local)
            del argv[at:at + 2]
    script = argv[0]
    command = " ".join(["python3", "tests/natlab/matrix.py" if script.endswith("matrix.py")
                        else script] + [shlex.quote(a) for a in argv[1:]])
    opts = argv[1:]

    def opt(name):
        return opts[opts.index(name) + 1] if name in opts and opts.index(name) + 1 < len(opts) \
            else None
    rows, condition = [], None
    for line in lines[1:]:
        c = CONDITION.match(line)
        if c:
            condition = (int(c[1]), float(c[2]))
            continue
        m = ROW.match(line)
        if m and condition:
            fail = re.match(r"(.*) \((\d+)x\)$", m[11])
            row = {"server": m[1], "client": m[2], "delay_ms": condition[0],
                   "loss": condition[1], "trials": int(m[4]), "ok": int(m[3]),
                   "direct": int(m[5]), "lan": int(m[6]), "relay": int(m[7]),
                   "connect_ms": number(m[8]), "echo_ms": number(m[9]),
                   "floor_ms": int(m[10]), "failure": fail[1] if fail else None}
            if fail:
                row["failures"] = int(fail[2])
            rows.append(row)
    if not rows:
        raise ValueError("the report has no rows")
    relay = "--relay-rate" in head["argv"] or ("--targets" in opts and "--hp-args" not in opts)
    record = {"source": IMPORTED, "tool": "tests/natlab/matrix.py", "command": command,
              "commit": None if head["commit"] == "?" else head["commit"],  # git failed
              "date": head["date"], "kernel": head["kernel"], "version": head["version"],
              "pairs": list(dict.fromkeys(f"{r['server']}:{r['client']}" for r in rows)),
              "trials": int(head["trials"]),
              "delay_ms": list(dict.fromkeys(r["delay_ms"] for r in rows)),
              "loss": list(dict.fromkeys(r["loss"] for r in rows)), "relay": relay}
    if opt("--session"):
        record["session"] = opt("--session")
    if opt("--jobs"):
        record["jobs"] = int(opt("--jobs"))
    record["rows"] = rows
    return record


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default=MATRIX_RUNS)
    ap.add_argument("--doc", default=DOC)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--add-matrix", metavar="REPORT.md",
                      help="append the run of a matrix.py --markdown report to --runs")
    ap.add_argument("--note", help="with --add-matrix: a note for the record")
    args = ap.parse_args(argv)
    data = load(args.runs)
    if args.add_matrix:
        with open(args.add_matrix) as f:
            record = parse_report(f.read())
        if args.note:
            record["note"] = args.note
        data["runs"].append(record)
        save(data, args.runs)
        print(f"{args.runs}: run {len(data['runs'])} recorded ({record['command']}); "
              f"`python3 tests/natlab/report.py --write` puts it into the doc")
        return 0
    sections = render(data["runs"])
    if args.write or args.check:
        with open(args.doc) as f:
            text = f.read()
        if args.check:
            stale = [n for n, t in in_doc(text).items() if t != sections[n]]
            if stale:
                print(f"{args.doc}: not what tests/natlab/report.py renders: {', '.join(stale)} "
                      f"(run tests/natlab/report.py --write)", file=sys.stderr)
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
