"""tests/natlab/report.py and the data it renders (no root, no namespaces):
docs/NAT.md's generated sections are exactly what report.py renders from
tests/natlab/results/matrix_runs.json and tests/natlab/recovery_results.json
(so the doc cannot drift from the recorded runs), every record is well
formed, a run matrix.py reports can be recorded, and the doc stays short
and names only tests, files and sections that exist."""
import collections
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "natlab")
sys.path.insert(0, HERE)
import lab as natlab  # noqa: E402
import matrix  # noqa: E402

SCRIPT = os.path.join(HERE, "report.py")
# Under a name of its own: bench/report.py is `report` to tests/bench.
_spec = importlib.util.spec_from_file_location("natlab_report", SCRIPT)
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)
BACKFILLED = re.compile(r"^backfilled from docs/NAT\.md at [0-9a-f]{40}$")
DATA = [os.path.join(report.RESULTS, name) for name in
        ("matrix_runs.json", "recovery_runs.json", "mapping_lifetime_runs.json")]
KINDS = set(natlab.ALL_KINDS) | {natlab.SAME_NAT}


def doc():
    with open(report.DOC) as f:
        return f.read()


def test_the_doc_has_what_report_renders():
    """Fails when the doc's tables differ from the data files: after a run,
    `python3 tests/natlab/report.py --write` brings the doc up to date."""
    rendered = report.render(report.load()["runs"])
    assert report.in_doc(doc()) == rendered, "run tests/natlab/report.py --write"
    result = subprocess.run(["/usr/bin/python3", SCRIPT, "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_doc_stays_short():
    """docs/NAT.md is user documentation of fewer than 3,000 words (as `wc -w`
    counts them), generated tables included: run histories belong in the
    data files."""
    assert len(doc().split()) < 3000


def check_backfilled(record, head):
    assert BACKFILLED.match(record["source"]), record["source"]
    assert record["source"].endswith(head)
    assert re.match(r"^[0-9a-f]{40}$", record["documented_in"]["commit"]), record
    assert re.match(r"^\d{4}-\d\d-\d\dT", record["documented_in"]["date"]), record
    assert record.get("rows") or record.get("outcome"), record


def check_row(row):
    assert {"server", "client", "trials", "ok", "direct", "lan", "relay"} <= set(row), row
    pair = (row["server"], row["client"])
    assert set(pair) <= KINDS, row
    assert 0 <= row["ok"] <= row["trials"], row
    assert row["direct"] + row["lan"] + row["relay"] == row["ok"], row  # paths of those ok
    assert row["floor_ms"] == matrix.floor_ms(pair, row["delay_ms"]), row
    if row["ok"]:
        assert row["echo_ms"] is not None and row["echo_ms"] >= row["floor_ms"], row
    else:
        assert row["echo_ms"] is None and row["failure"], row


def test_every_record_is_well_formed():
    runs = report.load()["runs"]
    backfilled = [r for r in runs if r["source"] != report.IMPORTED]
    head = backfilled[0]["source"].rsplit(" ", 1)[1]
    for record in backfilled:
        check_backfilled(record, head)
    # Oldest first: the backfilled records by the commit that documented them,
    # and before any recorded by --add-matrix.
    dates = [r["documented_in"]["date"] for r in backfilled]
    assert dates == sorted(dates)
    sources = [r["source"] == report.IMPORTED for r in runs]
    assert sources == sorted(sources)
    for record in runs:
        assert record["tool"] == "tests/natlab/matrix.py"
        assert record["command"] is None or "matrix.py" in record["command"], record
        if record.get("rows"):
            for row in record["rows"]:
                check_row(row)
            assert record["pairs"] == list(dict.fromkeys(
                f"{row['server']}:{row['client']}" for row in record["rows"]))
            assert {row["trials"] for row in record["rows"]} <= {record["trials"]}
        for pair in record.get("pairs", []):
            assert pair == "direct" or set(pair.split(":")) <= KINDS, pair
    assert any(report.complete(r) for r in runs)  # the doc has tables
    for path in DATA[1:]:
        for record in report.load(path)["runs"]:
            check_backfilled(record, head)


def test_the_data_files_keep_their_layout():
    """What report.py writes (--add-matrix) is what is there: no churn."""
    for path in DATA:
        with open(path) as f:
            text = f.read()
        assert report.dumps(json.loads(text)) + "\n" == text, path


def test_the_tables_show_the_latest_row_of_each_pair_and_condition():
    runs = report.load()["runs"]
    shown, rows = report.current(runs)
    assert all(report.complete(r) for r in shown)
    for key, row in rows.items():
        later = [r for r in runs[runs.index(shown[-1]) + 1:] if report.complete(r)]
        assert not any((x["server"], x["client"], x["delay_ms"], float(x["loss"])) == key
                       for r in later for x in r["rows"])
        assert row["trials"] >= report.MIN_TRIALS
    # A run with a longer session id, or fewer trials, is recorded, not shown.
    assert not any(r.get("session") for r in shown)


def matrix_report(tmp_path, monkeypatch, trials, rows):
    """A report as matrix.py writes it (its own report()), of the given rows."""
    out = tmp_path / "run.md"
    monkeypatch.setattr(sys, "argv", ["tests/natlab/matrix.py", "--trials", str(trials),
                                      "--pairs", "public:public", "--markdown", str(out),
                                      "--logs", "/tmp/logs"])
    ruphin = tmp_path / "ruphin"  # what `ruphin --version` prints
    ruphin.write_text("#!/bin/sh\necho ruphin 0.1.0\n")
    ruphin.chmod(0o755)
    args = types.SimpleNamespace(ruphin=str(ruphin), trials=trials, targets=False)
    text = matrix.report(args, rows) + "\n"
    # The commit as git names it where it can (not as another user, say).
    out.write_text(re.sub(r" at commit \S+, ", " at commit abcdef1, ", text, count=1))
    return out


def summary(ok, n, echo, path="direct"):
    """A pair's summary as matrix.summarize makes it."""
    return {"ok": ok, "n": n, "paths": collections.Counter({path: ok}), "connect": echo - 1,
            "echo": echo, "why": None if ok == n else ("connected, but no echo came back", n - ok)}


def test_a_matrix_report_is_recorded_and_rendered(tmp_path, monkeypatch):
    runs_file = tmp_path / "matrix_runs.json"
    runs_file.write_text(open(report.MATRIX_RUNS).read())
    before = report.render(report.load()["runs"])
    pair = ("public", "public")
    # A short run: recorded, but the tables stay as they were.
    small = matrix_report(tmp_path, monkeypatch, 2, {(20, 0.0): [(pair, summary(2, 2, 81))]})
    assert report.main(["--runs", str(runs_file), "--add-matrix", str(small)]) == 0
    record = report.load(str(runs_file))["runs"][-1]
    assert record["source"] == report.IMPORTED
    assert record["command"] == ("python3 tests/natlab/matrix.py --trials 2 --pairs "
                                 "public:public")  # without the machine's paths
    assert record["rows"] == [{"server": "public", "client": "public", "delay_ms": 20,
                               "loss": 0.0, "trials": 2, "ok": 2, "direct": 2, "lan": 0,
                               "relay": 0, "connect_ms": 80, "echo_ms": 81, "floor_ms": 80,
                               "failure": None}]
    assert record["commit"] == "abcdef1" and record["relay"] is False
    assert record["version"] == "ruphin 0.1.0" and record["trials"] == 2
    assert report.render(report.load(str(runs_file))["runs"]) == before
    # A full one replaces its pair's row at that condition, nothing else.
    full = matrix_report(tmp_path, monkeypatch, 20,
                         {(20, 0.0): [(pair, summary(19, 20, 95))]})
    assert report.main(["--runs", str(runs_file), "--add-matrix", str(full),
                        "--note", "a test"]) == 0
    record = report.load(str(runs_file))["runs"][-1]
    assert record["note"] == "a test" and record["rows"][0]["failure"] == \
        "connected, but no echo came back" and record["rows"][0]["failures"] == 1
    after = report.render(report.load(str(runs_file))["runs"])
    assert "| **public** | 79/80 direct; 95 |" in after["matrix-connected"]
    assert after["recovery"] == before["recovery"]
    assert report.dumps(report.load(str(runs_file))) + "\n" == runs_file.read_text()


def test_write_replaces_only_the_sections(tmp_path):
    page = tmp_path / "doc.md"
    text = "# T\n\nbefore\n\n" + "\n\nmiddle\n\n".join(
        f"<!-- report.py: {name} -->\nold\n<!-- /report.py: {name} -->"
        for name in report.SECTIONS) + "\nafter\n"
    page.write_text(text)
    check = ["/usr/bin/python3", SCRIPT, "--doc", str(page), "--check"]
    assert subprocess.run(check, capture_output=True, timeout=60).returncode == 1
    subprocess.run(["/usr/bin/python3", SCRIPT, "--doc", str(page), "--write"], check=True,
                   timeout=60)
    new = page.read_text()
    assert subprocess.run(check, capture_output=True, timeout=60).returncode == 0
    for name, section in report.render(report.load()["runs"]).items():
        assert f"<!-- report.py: {name} -->\n{section}\n<!-- /report.py: {name} -->" in new
    assert new.startswith("# T\n\nbefore\n\n") and new.endswith("-->\nafter\n")
    assert "\nold\n" not in new and new.count("\n\nmiddle\n\n") == len(report.SECTIONS) - 1


def defined_tests():
    names = set()
    for path in glob.glob(os.path.join(ROOT, "tests", "**", "*.py"), recursive=True):
        with open(path) as f:
            names |= set(re.findall(r"^\s*def (test_\w+)", f.read(), re.M))
    for path in glob.glob(os.path.join(ROOT, "tests", "**", "*.c"), recursive=True):
        with open(path, errors="replace") as f:
            names |= set(re.findall(r"\b(test_\w+)\s*\(", f.read()))
    return names


def test_every_test_the_doc_names_exists():
    """A claim backed by a named test stays backed: the name exists."""
    defined = defined_tests()
    named = set(re.findall(r"\b(test_\w+)\b(?!\.py|\.c)", doc()))
    assert named and named <= defined, sorted(named - defined)


def test_every_file_the_doc_names_exists():
    named = set(re.findall(r"(?<![\w/.])((?:tests|docs|bench|scripts|core)/[\w./-]*\w)", doc()))
    assert named
    missing = [p for p in named if not os.path.exists(os.path.join(ROOT, p))]
    assert not missing, missing


def test_the_sections_other_files_cite_exist():
    """Files that cite a section of docs/NAT.md by name find it."""
    headings = set(re.findall(r"^#+ (.+)$", doc(), re.M))
    cited = {}
    for pattern in ("docs/*.md", "README.md", "tests/**/*.py", "core/src/*.[ch]", "bench/*"):
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            if os.path.isfile(path) and not path.endswith(os.path.join("docs", "NAT.md")):
                with open(path, errors="replace") as f:
                    for name in re.findall(r'NAT\.md,\s+"([^"]+)"', f.read()):
                        cited[" ".join(name.split())] = path
    assert cited
    missing = {name: path for name, path in cited.items() if name not in headings}
    assert not missing, missing
