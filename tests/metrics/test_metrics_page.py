"""ruphin holepuncher --metrics: what the page says, checked against raw
traffic of known effect (docs/PROTOCOL.md) and the holepuncher's own log."""
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metricslib import (HELLO_REQ, JOIN, PEER_INFO, REGISTER, REGISTER_ACK,  # noqa: E402
                        Udp, frame, scrape_until)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SESSION_NOT_FOUND = 7
LONG_ID = b"a-twenty-byte-id...."  # a Join of it is as long as its answer


def header_stats():
    with open(os.path.join(ROOT, "core", "include", "ruphin.h")) as f:
        text = f.read()
    block = text[text.index("typedef enum ruphin_stat_id"):text.index("} ruphin_stat_id;")]
    return set(re.findall(r"(RUPHIN_STAT_[A-Z_]+) = \d+", block)) - {"RUPHIN_STAT_COUNT"}


def test_every_counter_of_the_header_is_mapped():
    """Each RUPHIN_STAT_* of ruphin.h is in the page's table in cli/metrics.c,
    or named in the comment above it among those a holepuncher never counts:
    a new counter in the header fails here until it is one or the other."""
    with open(os.path.join(ROOT, "cli", "metrics.c")) as f:
        source = f.read()
    table = source[source.index("stat_metrics[] = {"):]
    table = table[:table.index("};")]
    mapped = set(re.findall(r"RUPHIN_STAT_[A-Z_]+", table))
    comment = source[:source.index("static const struct stat_metric {")]
    comment = comment[comment.rindex("/*"):]
    not_a_holepuncher_s = set(re.findall(r"RUPHIN_STAT_[A-Z_]+", comment))
    assert "RUPHIN_STAT_PEERS" in not_a_holepuncher_s
    header = header_stats()
    assert header <= mapped | not_a_holepuncher_s, header - mapped - not_a_holepuncher_s
    assert mapped <= header
    assert not mapped & not_a_holepuncher_s


def check_format(page, workers):
    """Every sample belongs to a family with HELP and TYPE; counters and only
    they end in _total; per-worker series carry worker="N" exactly when
    there are several workers."""
    for name in page.names():
        assert name in page.help and name in page.type, name
        assert page.help[name].strip(), name
        assert (page.type[name] == "counter") == name.endswith("_total"), name
        assert page.type[name] in ("counter", "gauge"), name
    for (name, labels), _ in page.samples.items():
        keys = {k for k, _ in labels}
        per_worker = name.startswith("ruphin_") and name not in ("ruphin_build_info",
                                                                   "ruphin_workers")
        assert ("worker" in keys) == (per_worker and workers > 1), (name, labels)
        if "worker" in keys:
            assert int(dict(labels)["worker"]) in range(workers)


def test_one_worker_counts_what_it_served(metrics_holepuncher, ruphin_bin, run_process):
    hp, url, proc = metrics_holepuncher("--rate-limit", "0", "--no-amplification", "1")
    owner, joiner = Udp(hp), Udp(hp)
    try:
        # Ids of 7 bytes or more: a Join (4 + id) is then no shorter than
        # the PeerInfo (11) it brings, as --no-amplification 1 wants.
        for ident in (b"session-1", b"session-2", b"session-3"):
            assert owner.ask(REGISTER, ident) == REGISTER_ACK
        for ident in (b"session-1", b"session-2"):
            assert joiner.ask(JOIN, ident) == PEER_INFO
        assert joiner.ask(JOIN, b"nobody") == SESSION_NOT_FOUND
        assert joiner.ask(HELLO_REQ) is not None
        joiner.send(b"\x00")  # malformed: shorter than a header
        joiner.send(b"\x00\x09\x00\x02abc")  # malformed: its length is not its size
        page = scrape_until(url, lambda p: p.value("ruphin_malformed_datagrams_total") == 2)
    finally:
        owner.close()
        joiner.close()
    check_format(page, 1)
    version = run_process([ruphin_bin, "--version"]).stdout.split()[1]
    assert page.value("ruphin_build_info", version=version) == 1
    assert page.value("ruphin_workers") == 1
    assert page.value("ruphin_sessions") == 3
    assert page.value("ruphin_max_sessions") == 1000000
    assert page.value("ruphin_session_events_total", event="registered") == 3
    assert page.value("ruphin_session_events_total", event="joined") == 2
    assert page.value("ruphin_session_events_total", event="expired") == 0
    # 3 Registers, 3 Joins, a HelloReq and 2 malformed in; 3 RegisterAcks,
    # 2 PeerInfo to each side, a SessionNotFound and a HelloResp out.
    assert page.value("ruphin_received_datagrams_total") == 9
    assert page.value("ruphin_sent_datagrams_total") == 9
    assert page.total("ruphin_refused_requests_total") == 0
    assert page.value("ruphin_send_failures_total") == 0
    assert page.value("ruphin_unexpected_datagrams_total") == 0
    assert page.value("ruphin_poll_errors_total") == 0
    assert page.value("ruphin_poll_age_seconds") < 1
    assert time.time() - 120 < page.value("process_start_time_seconds") <= time.time()
    # The page agrees with the holepuncher's own count as it stops.
    assert proc.stop() == 0
    m = re.search(r"stopping: (\d+) sessions, (\d+) datagrams in, (\d+) malformed, "
                  r"(\d+) unexpected", proc.text())
    assert [int(x) for x in m.groups()] == [3, 9, 2, 0]


def test_refusals_by_reason(metrics_holepuncher):
    """A full table, a Register of another owner's id, a Join that would
    send an unproven owner more than it sent (--no-amplification 2, the
    default), and a source over the rate limit: each counted under its
    reason."""
    hp, url, _ = metrics_holepuncher("--max-sessions", "2", "--rate-limit", "20")
    owner, other, joiner = Udp(hp, timeout=0.5), Udp(hp, timeout=0.5), Udp(hp, timeout=0.5)
    flood = Udp(hp, source="127.0.0.2")
    try:
        assert owner.ask(REGISTER, b"a") == REGISTER_ACK
        assert owner.ask(REGISTER, LONG_ID) == REGISTER_ACK
        assert owner.ask(REGISTER, b"c") is None  # the table is full
        assert other.ask(REGISTER, b"a") is None  # owned by another address
        assert joiner.ask(JOIN, b"a") is None  # short: its answer would be larger
        assert joiner.ask(JOIN, LONG_ID) is None  # long enough, but its owner never proved
        # its address (an original server's session, in the strict default)
        for _ in range(100):  # well over 20 a second from one address
            flood.send(b"\x00\x04\x00\x08")
        page = scrape_until(url, lambda p: p.value(
            "ruphin_refused_requests_total", reason="rate_limit") >= 50 and
            p.value("ruphin_requests_total", type="hello") +
            p.value("ruphin_refused_requests_total", reason="rate_limit") == 100)
    finally:
        for s in (owner, other, joiner, flood):
            s.close()
    assert page.value("ruphin_refused_requests_total", reason="table_full") == 1
    assert page.value("ruphin_refused_requests_total", reason="conflict") == 1
    assert page.value("ruphin_refused_requests_total", reason="amplification") == 1
    assert page.value("ruphin_refused_requests_total", reason="unproven_owner") == 1
    assert page.value("ruphin_refused_requests_total", reason="relay_budget") == 0
    assert page.value("ruphin_sessions") == 2
    assert page.value("ruphin_max_sessions") == 2
    # The flood's datagrams past the limit's burst.
    assert page.value("ruphin_refused_requests_total", reason="rate_limit") <= 100
    # Requests taken, by type: three Registers and one of another owner's
    # (refused later), the Joins, and the flood's HelloReqs within the limit.
    assert page.value("ruphin_requests_total", type="register") == 4
    assert page.value("ruphin_requests_total", type="join") == 2
    assert page.value("ruphin_requests_total", type="hello") + \
        page.value("ruphin_refused_requests_total", reason="rate_limit") == 100


def test_workers_are_labelled(metrics_holepuncher, linux_extras):
    """--workers 3: each worker's series apart (worker="0".."2"); their
    sum is what was served, sessions spread over the workers by id."""
    if not linux_extras:
        pytest.skip("socket groups need Linux's extras")
    hp, url, proc = metrics_holepuncher("--workers", "3", "--no-amplification", "1",
                                        "--rate-limit", "0")
    owner = Udp(hp)
    try:
        for i in range(30):
            assert owner.ask(REGISTER, f"labelled-{i}".encode()) == REGISTER_ACK
        page = scrape_until(url, lambda p: p.total("ruphin_sessions") == 30)
    finally:
        owner.close()
    check_format(page, 3)
    assert page.value("ruphin_workers") == 3
    per_worker = [page.value("ruphin_sessions", worker=str(w)) for w in range(3)]
    assert sum(per_worker) == 30 and all(n > 0 for n in per_worker)
    assert page.total("ruphin_session_events_total", event="registered") == 30
    assert page.total("ruphin_received_datagrams_total") == 30
    for w in range(3):
        assert page.value("ruphin_max_sessions", worker=str(w)) == 1000000
        assert page.value("ruphin_poll_age_seconds", worker=str(w)) < 1
    assert proc.stop() == 0
    logged = [int(n) for n in re.findall(r"worker \d: (\d+) sessions", proc.text())]
    assert logged == per_worker


def test_each_worker_has_its_own_table_bound(metrics_holepuncher, linux_extras):
    """--max-sessions bounds each worker's table: with 2 workers and a bound
    of 2, 20 new ids leave 2 sessions in each and 16 refused."""
    if not linux_extras:
        pytest.skip("socket groups need Linux's extras")
    hp, url, _ = metrics_holepuncher("--workers", "2", "--no-amplification", "1",
                                     "--rate-limit", "0", "--max-sessions", "2")
    owner = Udp(hp, timeout=1)
    try:
        for i in range(20):
            owner.send(frame(REGISTER, f"bounded-{i}".encode()))
        answers = []  # a refused Register is never answered: all there are within a second
        while (answer := owner.receive()) is not None:
            answers.append(answer)
        page = scrape_until(url, lambda p: p.total("ruphin_received_datagrams_total") == 20)
    finally:
        owner.close()
    assert answers.count(REGISTER_ACK) == 4, answers
    assert [page.value("ruphin_sessions", worker=w) for w in "01"] == [2, 2]
    assert page.total("ruphin_refused_requests_total", reason="table_full") == 16


def test_quiet_has_no_session_events(metrics_holepuncher):
    """--quiet: the core makes no session events, so the page has none to
    count (rather than a count stuck at 0); the core's counters go on."""
    hp, url, _ = metrics_holepuncher("--quiet", "--no-amplification", "1")
    owner = Udp(hp)
    try:
        assert owner.ask(REGISTER, b"quiet") == REGISTER_ACK
        page = scrape_until(url, lambda p: p.value("ruphin_sessions") == 1)
    finally:
        owner.close()
    check_format(page, 1)
    assert "ruphin_session_events_total" not in page.names()
    assert page.value("ruphin_received_datagrams_total") == 1


def test_real_peers_show_on_the_page(metrics_holepuncher, ruphin_bin, spawn, run_process):
    """A server and a client as they are (generation 1: owner tokens,
    cookies) through the holepuncher in its default mode."""
    hp, url, _ = metrics_holepuncher()
    server = spawn(ruphin_bin, "server", "--holepuncher", hp, "--session", "game",
                   "--bind", "127.0.0.1:0", "--echo")
    server.wait_for("REGISTERED")
    result = run_process([ruphin_bin, "client", "--holepuncher", hp, "--session", "game",
                          "--bind", "127.0.0.1:0", "--count", "1"])
    assert result.returncode == 0, result.stderr
    page = scrape_until(url, lambda p: p.value("ruphin_session_events_total",
                                               event="joined") >= 1)
    assert page.value("ruphin_sessions") == 1
    assert page.value("ruphin_session_events_total", event="registered") == 1
    assert page.value("ruphin_received_datagrams_total") >= 2
    assert page.value("ruphin_malformed_datagrams_total") == 0
