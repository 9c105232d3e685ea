"""The benchmark suite runs (a very short version): every part builds, runs
and reports a sane structure. No speed is asserted; the machines are shared."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import report  # noqa: E402  (the table's rows, from a run's record)
import run  # noqa: E402  (the suite itself)
from run import STEADY, TRIES, RawBaselines, drift  # noqa: E402  (its baseline rule)

HOLEPUNCHER_RUNS = ("raw", "raw2", "workers", "hello", "register", "register-level", "refresh",
                    "join", "join-miss", "group-hello", "group-join", "group-join-miss",
                    "daemon-quiet", "daemon-logging")


class ScriptedBaselines(RawBaselines):
    """RawBaselines whose raw runs answer the given rates, without servers."""

    def __init__(self, rates):
        self.rates, self.runs, self.last = list(rates), {}, None

    def measure(self, two_datagrams=False):
        return self.record({"rate": self.rates.pop(0), "cpu_us": 1.0}, two_datagrams)


def test_around_runs_again_while_the_baseline_drifts():
    """A measure whose raw runs before and after differ by more than STEADY
    runs again, the raw run after one try being the one before the next;
    the steadiest try counts; a steady one ends it; TRIES at most."""
    measures = iter(range(1, 100))
    raw = ScriptedBaselines([100, 150, 130, 128, 200, 190])
    result = raw.around(lambda: {"rate": next(measures), "cpu_us": 2.0})
    assert result["tries"] == 3 and result["rate"] == 3  # 100-150, 150-130 unsteady; 130-128 not
    assert result["base_rates"] == [130, 128] and result["base_rate"] == 129
    # The next measure of the same baseline starts from that run after.
    result = raw.around(lambda: {"rate": next(measures), "cpu_us": 2.0})
    assert result["tries"] == 2 and result["base_rates"] == [200, 190]  # 128-200 unsteady
    assert [r["rate"] for r in raw.runs["raw"]] == [100, 150, 130, 128, 200, 190]
    raw = ScriptedBaselines([100, 200, 170, 100, 100])  # never steady: the steadiest of TRIES
    result = raw.around(lambda: {"rate": next(measures), "cpu_us": 2.0})
    assert result["tries"] == TRIES == 3 and result["base_rates"] == [200, 170]  # 15 % apart
    assert raw.rates == [100]
    # A measure of the other baseline does not start from this one's run.
    raw = ScriptedBaselines([100, 100, 50, 50])
    raw.around(lambda: {"rate": 1, "cpu_us": 2.0})
    assert raw.around(lambda: {"rate": 1, "cpu_us": 2.0}, two_datagrams=True)["base_rates"] == \
        [50, 50]


def run_smoke(tmp_path):
    out, records = tmp_path / "bench.json", tmp_path / "runs.jsonl"
    records.write_text('{"earlier": 1}\n')
    result = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "run.py"), "--smoke",
                             "--python", sys.executable, "--json", str(out),
                             "--record", str(records)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = records.read_text().splitlines()
    assert len(lines) == 2 and lines[0] == '{"earlier": 1}'  # appended, one line
    return result.stdout, json.loads(out.read_text()), json.loads(lines[1])


def check_record(stdout, record):
    """The run's record (bench/results/runs.jsonl's format) says when, where
    and how it ran, and bench/report.py renders from it the table the run
    printed."""
    assert record["source"] == "bench/run.py" and len(record["commit"]) == 40
    assert record["command"].startswith("bench/run.py --smoke")
    assert record["parts"] == list(report.PARTS) and record["settings"]["smoke"] is True
    assert not report.is_full(record)  # a smoke run never becomes the doc's table
    assert record["machine"]["cpus"] == os.cpu_count() and record["machine"]["kernel"]
    assert len(record["machine"]["loadavg_after"]) == 3
    lo, hi = record["raw_range"]
    assert 0 < lo <= record["results"]["raw"]["rate"] <= hi
    assert record["reran"]["of"] == 9 and record["duration_s"] >= 0
    printed = [line for line in stdout.splitlines() if line.startswith("|")]
    assert report.table(record).splitlines() == printed


def check_table(stdout):
    rows = [line for line in stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| measure")]
    assert len(rows) == 26, stdout  # 14 request rates, fresh memory, 2 memory, 4 + 2 data path,
    # 2 + 1 connect
    for row in rows:  # every measure produced a number (or says why it was skipped)
        value = row.split("|")[2]
        assert any(ch.isdigit() for ch in value) or "skipped" in value, row


def check_holepuncher(hp):
    hp = dict(hp)
    # What fresh memory cost, measured in each round after the growing
    # Register (one round in a smoke run), first and again at once.
    fresh = hp.pop("fresh-memory")
    assert len(fresh["rounds"]) == 1 and fresh["rounds"][0]["mib"] > 0, fresh
    assert fresh["ns_per_kib"] > 0 and fresh["again_ns_per_kib"] > 0, fresh
    assert set(hp) == set(HOLEPUNCHER_RUNS)
    for name, run in hp.items():
        assert run["answered"] > 0 and run["rate"] > 0, (name, run)
        assert run["server_cpu_s"] >= 0, (name, run)
    # A found Join is announced to the session's owner too, as the second
    # raw baseline copies every answer to it; other requests answer only
    # their sender.
    assert hp["join"]["owner_rx"] > 0 and hp["raw2"]["owner_rx"] > 0
    assert hp["hello"]["owner_rx"] == hp["join-miss"]["owner_rx"] == hp["raw"]["owner_rx"] == 0
    assert hp["workers"]["owner_rx"] == 0
    assert hp["join"]["prefilled"] == hp["join"]["sessions"] > 0
    # The group of holepunchers filled its table and its Joins found sessions
    # (steering correctness itself: tests/cli, test_workers_...).
    assert hp["group-join"]["prefilled"] == hp["group-join"]["sessions"] > 0
    assert hp["group-join"]["owner_rx"] > 0
    assert hp["refresh"]["prefilled"] > 0  # its sockets registered their ids first
    # Every measure is compared with the mean of two runs of its baseline,
    # the one just before it and the one just after (RawBaselines.around);
    # consecutive measures share the run between them (one round: the
    # workers, four request types, the level run and the two daemon runs
    # against the raw responder; Join against the two-datagram one).
    raw_rates, raw2_rates = hp["raw"]["rates"], hp["raw2"]["rates"]
    for name, run in hp.items():
        if name not in ("raw", "raw2"):
            assert run["base_rate"] > 0 and run["ratio"] == run["rate"] / run["base_rate"], name
    in_order = ("workers", "hello", "join-miss", "refresh", "register", "register-level",
                "daemon-quiet", "daemon-logging")
    positions = []
    for name in in_order + ("join",):
        run, rates = hp[name], raw2_rates if name == "join" else raw_rates
        before, after = run["base_rates"]
        first, second = run["base_positions"]
        assert run["base_rate"] == (before + after) / 2, name
        assert rates[first] == before and rates[second] == after, name
        assert second == first + 1, name  # nothing of its baseline ran between
        # A measure with two raw runs further apart ran again (at most
        # TRIES times; the steadiest try counts).
        assert 1 <= run["tries"] <= TRIES, name
        assert run["tries"] == TRIES or drift({"rate": before}, {"rate": after}) <= STEADY, name
        positions.append(first)
    # ... each its own raw runs, in the order they ran (not one for all)
    assert positions[:-1] == sorted(set(positions[:-1])), positions
    assert len(raw_rates) >= 10 and len(raw2_rates) >= 2
    assert hp["group-join"]["base_rate"] == hp["join"]["rate"]
    # The table each measure ran against: the rows name it. Register of new
    # ids grew it, from what the Join and refresh runs filled.
    assert hp["register"]["live"] > hp["register"]["live_before"] >= hp["join"]["live"] > 0
    assert hp["hello"]["live"] == hp["hello"]["live_before"] > 0  # HelloReq adds nothing
    # At a level population, sessions expired while new ones came.
    level = hp["register-level"]
    assert 0 < level["live"] < level["received"], level


def test_bench_smoke(tmp_path):
    stdout, res, record = run_smoke(tmp_path)
    check_table(stdout)
    check_record(stdout, record)
    check_holepuncher(res["holepuncher"])
    mem = res["memory"]
    assert mem["rss_full_kb"] > mem["rss_before_kb"] > 0 and mem["bytes_per_session"] > 0
    assert mem["live_sessions"] == 20000 and mem["sessions_left"] == 0
    assert mem["rss_after_kb"] < mem["rss_full_kb"]  # expiry gave memory back
    assert set(res["datapath"]) == {f"{mode}-{size}" for size in (64, 1200)
                                    for mode in ("raw", "raw-gso", "api", "api1")}
    for run in res["datapath"].values():
        assert run["received"] > 0 and run["sent"] >= run["received"], run
        assert run["ratio_to_raw"] > 0 and run["ratio_to_raw-gso"] > 0
    py = res["python"]
    assert "skipped" in py or all(py[m]["received"] > 0 for m in ("socket", "ruphin", "ruphin1"))
    ttc = res["connect"]
    assert ttc["failed"] < ttc["trials"]
    assert ttc["echo_ms"] >= ttc["connected_ms"] > 0 and ttc["rtt_floor_ms"] > 0
    lab = res["natlab"]  # skipped without root; CI runs as root
    if "skipped" not in lab:  # no echo comes back faster than the lab's delays allow
        assert lab["ok"] == lab["trials"] == 1 and lab["echo_ms"] >= lab["floor_ms"] == 80, lab


def test_measures_on_one_holepuncher_can_run_again(tmp_path):
    """A measure whose baseline drifted runs again on the same holepuncher:
    a Join run registers the owner's ids again from the same owner address
    (a new one would be refused: another owner's ids), a refresh run
    registers ids of its own, a register run new ones; every try fills its
    table and is answered."""
    run.build(str(tmp_path))
    sessions, port = 5000, run.BASE_PORT + 19
    with run.Server([str(tmp_path / "hp_serve"), f"127.0.0.1:{port}",
                     str(run.table_room(sessions, 0.2, 2)), "600000"]) as hp:
        for mode, k in (("join", sessions), ("join", sessions), ("refresh", sessions),
                        ("refresh", sessions), ("register", 0), ("register", 0)):
            result = run.load(str(tmp_path), hp, port, mode, 0.2, k,
                              owner_port=port - 1 if mode == "join" else 0)
            filled = k // result["sockets"] * result["sockets"] if mode == "refresh" else k
            assert result["answered"] > 0 and result["prefilled"] == filled, (mode, result)
        assert run.hp_stats(hp)["sessions"] >= 3 * sessions  # the owner's, two refresh runs'


def test_only_some_parts(tmp_path):
    """--only runs the parts asked for, and the table has only their rows."""
    out = tmp_path / "bench.json"
    result = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "run.py"), "--smoke",
                             "--only", "connect", "--json", str(out), "--no-record"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| measure")]
    assert len(rows) == 2 and all("client start" in row for row in rows), result.stdout
    assert "connect" in json.loads(out.read_text()) and "datapath" not in json.loads(out.read_text())


def test_compare_smoke():
    """bench/compare.py (bench/README.md) builds two checkouts' holepunchers,
    here the same one twice, and reports every mode for both, each with a
    ratio to its raw run."""
    result = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "compare.py"), ROOT,
                             ROOT, "--seconds", "0.3", "--rounds", "1", "--sessions", "20000"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line[:2] in ("A:", "B:")]
    modes = ("hello", "join", "join-miss", "refresh", "register", "register-level")
    assert sorted(row[0] for row in rows) == sorted(f"{tag}:{mode}" for tag in "AB"
                                                    for mode in modes), result.stdout
    for row in rows:  # every measure answered requests and has a ratio
        assert float(row[1].rstrip("/s").replace(",", "")) > 0 and float(row[2].lstrip("(")) > 0
