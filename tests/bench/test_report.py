"""bench/report.py and the data it renders: docs/PERFORMANCE.md's generated
sections are exactly what report.py renders from bench/results/runs.jsonl
(so the doc cannot drift from the recorded runs), and every record is
well formed (the live ones from bench/run.py, the backfilled ones marked
with the doc version they came from)."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import report  # noqa: E402

BACKFILLED = re.compile(r"^backfilled from docs/PERFORMANCE\.md at [0-9a-f]{40}$")


def test_the_doc_has_what_report_renders():
    """Fails when the doc's tables differ from the data file: after a run,
    `python3 bench/report.py --write` brings the doc up to date."""
    with open(report.DOC) as f:
        doc = f.read()
    rendered = report.render(report.load())
    assert report.in_doc(doc) == rendered, "run bench/report.py --write"
    result = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "report.py"),
                             "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_every_record_is_well_formed():
    records = report.load()
    assert any(report.is_full(r) for r in records)  # the doc has a current table
    dates = []
    for record in records:
        assert record["source"] == "bench/run.py" or BACKFILLED.match(record["source"]), record
        assert set(record["parts"]) <= set(report.PARTS) and record["results"], record
        assert record["command"].startswith("bench/run.py"), record
        if record["source"] == "bench/run.py":
            # What a live run always records (bench/run.py, make_record).
            assert re.match(r"^[0-9a-f]{40}$", record["commit"]), record["commit"]
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", record["date"]), record
            assert isinstance(record["changed"], list)
            for key in ("cpus", "kernel", "loadavg_before", "loadavg_after"):
                assert key in record["machine"], key
            assert {"seconds", "rounds", "sessions", "smoke"} <= set(record["settings"])
            dates.append(record["date"])
        else:
            # Backfilled: a commit (or the base of an unnamed branch's) and the
            # doc commit that first stated the run, nothing else required.
            assert record.get("commit") or record.get("base"), record
            assert re.match(r"^[0-9a-f]{40}$", record["documented_in"]["commit"]), record
        for name, r in record["results"].items():  # ratios are ratios, rates rates
            for key, value in r.items():
                if key.startswith("ratio") and not isinstance(value, list):
                    assert 0 < value < 20, (name, key, value)
                if key == "rate":
                    assert value > 0, (name, value)
    assert dates == sorted(dates)  # appended in the order they ran
    # The backfilled records come first, before any live run.
    sources = [r["source"] == "bench/run.py" for r in records]
    assert sources == sorted(sources)


def test_the_current_table_is_the_latest_full_run():
    records = report.load()
    latest = report.latest_full(records)
    assert report.table(latest) in report.current(records)
    # Records of part of the suite, or of a smoke run, never become current.
    part = dict(latest, parts=["holepuncher"], results={})
    smoke = dict(latest, settings=dict(latest.get("settings", {}), smoke=True), results={})
    assert report.latest_full(records + [part, smoke]) is latest


def test_write_replaces_only_the_sections(tmp_path):
    doc = tmp_path / "doc.md"
    text = ("# T\n\nbefore\n\n<!-- report.py: current -->\nold table\n<!-- /report.py: current -->"
            "\n\nmiddle\n\n<!-- report.py: history -->\n<!-- /report.py: history -->\n\n"
            "<!-- report.py: targets -->\nx\n<!-- /report.py: targets -->\nafter\n")
    doc.write_text(text)
    script = os.path.join(ROOT, "bench", "report.py")
    check = ["/usr/bin/python3", script, "--doc", str(doc), "--check"]
    assert subprocess.run(check, capture_output=True, timeout=60).returncode == 1
    subprocess.run(["/usr/bin/python3", script, "--doc", str(doc), "--write"], check=True,
                   timeout=60)
    new = doc.read_text()
    assert subprocess.run(check, capture_output=True, timeout=60).returncode == 0
    rendered = report.render(report.load())
    for name, section in rendered.items():
        assert f"<!-- report.py: {name} -->\n{section}\n<!-- /report.py: {name} -->" in new
    assert new.startswith("# T\n\nbefore\n\n") and "\n\nmiddle\n\n" in new
    assert new.endswith("<!-- /report.py: targets -->\nafter\n") and "old table" not in new


def test_the_doc_stays_short():
    """docs/PERFORMANCE.md is user documentation of at most 3,000 words (as
    `wc -w` counts them), generated tables included: the runs' history
    belongs in the data file."""
    with open(report.DOC) as f:
        assert len(f.read().split()) <= 3000
