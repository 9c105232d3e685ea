"""The matrix runner's bookkeeping (no root needed): reading a client's log
into a trial result, and judging issue 3's targets from the summaries."""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402


def result(tmp_path, text, returncode=0):
    log = tmp_path / "client.log"
    log.write_text(text)
    return matrix.read_result(str(log), returncode)


ANNOUNCED = "[  0.081] server announced at 203.0.113.11:4000 after 81 ms, punching\n"


def test_a_direct_connection_and_its_times(tmp_path):
    r = result(tmp_path, ANNOUNCED + "[  0.101] connected to 203.0.113.11:4000 after 101 ms\n"
                                     "[  0.122] first datagram back after 122 ms\n")
    assert r == matrix.Result(True, 101, 122, "direct", None)


def test_the_path_is_the_one_of_the_first_echo(tmp_path):
    r = result(tmp_path, ANNOUNCED + "[  3.400] relayed through the holepuncher\n"
                                     "[  3.400] connected to 203.0.113.11:4000 after 3400 ms\n"
                                     "[  3.450] first datagram back after 3450 ms\n"
                                     "[  4.000] connected to 203.0.113.11:4000 after 4000 ms\n")
    assert r == matrix.Result(True, 3400, 3450, "relay", None)


def test_a_direct_path_after_the_relay_counts_from_then_on(tmp_path):
    r = result(tmp_path, ANNOUNCED + "[  3.400] relayed through the holepuncher\n"
                                     "[  3.400] connected to 203.0.113.11:4000 after 3400 ms\n"
                                     "[  3.420] connected to 203.0.113.11:4000 after 3420 ms\n"
                                     "[  3.450] first datagram back after 3450 ms\n")
    assert (r.path, r.connect_ms) == ("direct", 3400)


def test_a_lan_connection_without_echo_fails(tmp_path):
    r = result(tmp_path, "[  0.001] connected to 198.18.0.2:4000 after 1 ms\n", 1)
    assert (r.ok, r.path, r.why) == (False, "lan", "connected, but no echo came back")


def test_failure_reasons(tmp_path):
    assert result(tmp_path, ANNOUNCED + "ruphin: client: timed out: no connection to the "
                  "server\n", 1).why == "announced, but punching never connected"
    assert result(tmp_path, "ruphin: client: timed out: no connection to the server\n",
                  1).why == "timed out: no connection to the server"


def summary(ok, n, path="direct", echo=100):
    return {"ok": ok, "n": n, "paths": collections.Counter({path: ok}), "connect": echo,
            "echo": echo if ok else None, "why": None}


def test_targets_are_judged_per_pair_and_condition():
    runs = {(20, 0.0): [(("restricted", "restricted"), summary(20, 20, echo=90)),
                        (("symmetric", "public"), summary(20, 20, echo=200)),
                        (("symmetric", "restricted"), summary(19, 20, "relay", 90)),
                        (("symmetric", "symmetric"), summary(20, 20, "relay", 90))],
            (20, 0.05): [(("restricted", "restricted"), summary(19, 20))]}
    checks = {name: (met, misses) for name, met, misses in matrix.check_targets(runs)}
    assert checks["no symmetric NAT, 0% loss: 100%"] == (True, [])
    assert checks["no symmetric NAT, 5% loss: >= 99%"][0] is False
    assert checks["symmetric vs public or full cone, 0% loss: 100%"][0] is True
    assert checks["symmetric vs port-restricted, 0% loss: >= 90% direct"][0] is False  # relayed
    assert checks["symmetric vs symmetric, 0% loss: 100% (relay)"][0] is True
    met, misses = checks["median ms to first echo <= 1.2 x floor at 20 ms, 0% loss"]
    assert not met and len(misses) == 1 and misses[0].startswith("symmetric/public")


def test_more_echo_datagrams_under_loss():
    """docs/NAT.md: 3 datagrams to echo without loss, 10 with it (3 would all
    be lost about once in a few hundred trials at 5 % per edge)."""
    assert matrix.echo_count(0) == 3
    assert matrix.echo_count(0.05) == matrix.echo_count(0.01) == 10
