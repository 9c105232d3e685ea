"""The NAT lab in the test suite: the lab's NATs behave as their names say,
and ruphin connects through the pairs that CI covers (matrix.py CI_PAIRS).
The full matrix is `python3 tests/natlab/matrix.py` (docs/NAT.md)."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402
import matrix  # noqa: E402

pytestmark = pytest.mark.root
WHY = natlab.available()
if WHY:
    pytestmark = [pytestmark, pytest.mark.skip(reason=WHY)]

# A UDP endpoint in a namespace: binds PORT, sends "hi" to each TARGET from
# that one socket, prints what arrives (data and source) for a moment.
PROBE = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    for target in sys.argv[2:]:
        host, port = target.split(":")
        s.sendto(b"hi", (host, int(port)))
    s.settimeout(0.3)
    end = time.time() + float({wait})
    while time.time() < end:
        try:
            data, src = s.recvfrom(100)
            print(data.decode(), src[0], src[1], flush=True)
        except socket.timeout:
            pass
""")


def probe(lab, role, port, targets, wait=1.0):
    return lab.popen(role, [sys.executable, "-c", PROBE.format(wait=wait), str(port), *targets],
                     stdout=subprocess.PIPE, text=True)


def seen_sources(proc):
    out, _ = proc.communicate(timeout=10)
    return [tuple(line.split()[1:3]) for line in out.splitlines()]


@pytest.fixture(scope="module")
def helper_dir(tmp_path_factory):
    natlab.sweep_stale()
    return str(tmp_path_factory.mktemp("natlab"))


def test_symmetric_nat_maps_each_destination_to_another_port(helper_dir):
    with natlab.Lab("symmetric", "public", helper_dir=helper_dir) as lab:
        hp_view = probe(lab, "holepuncher", 5000, [], wait=1.5)
        peer_view = probe(lab, "client", 5000, [], wait=1.5)
        time.sleep(0.3)
        lab.run("server", [sys.executable, "-c", "import socket,time;"
                           "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                           "s.bind(('0.0.0.0',4000));time.sleep(0.3);"
                           "s.sendto(b'a',('203.0.113.1',5000));"
                           "s.sendto(b'b',('203.0.113.12',5000))"])
        via_hp, via_peer = seen_sources(hp_view), seen_sources(peer_view)
    assert via_hp and via_peer
    assert via_hp[0][0] == via_peer[0][0] == "203.0.113.11"  # the router's address
    assert via_hp[0][1] != via_peer[0][1]  # but another port per destination


def test_restricted_router_drops_unsolicited_packets(helper_dir):
    with natlab.Lab("restricted", "public", helper_dir=helper_dir) as lab:
        outside = probe(lab, "client", 5000, [], wait=1.0)
        time.sleep(0.3)  # listening before the inside host sends
        inside = probe(lab, "server", 4000, ["203.0.113.12:5000"], wait=1.5)
        mapped_port = seen_sources(outside)[0][1]
        # Our peer answers through the mapping; a stranger port does not get in.
        lab.run("client", [sys.executable, "-c", "import socket;"
                           "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                           "s.bind(('0.0.0.0',5000));"
                           f"s.sendto(b'reply',('203.0.113.11',{mapped_port}));"
                           "t=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                           f"t.sendto(b'stranger',('203.0.113.11',{mapped_port}))"])
        got = inside.communicate(timeout=10)[0]
    assert "reply" in got and "stranger" not in got


def test_full_cone_lets_anyone_reach_the_mapping(helper_dir):
    with natlab.Lab("fullcone", "public", helper_dir=helper_dir) as lab:
        inside = probe(lab, "server", 4000, ["203.0.113.1:5000"], wait=1.5)
        time.sleep(0.3)
        lab.run("client", [sys.executable, "-c", "import socket,time;time.sleep(0.3);"
                           "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                           "s.sendto(b'anyone',('203.0.113.11',4000))"])
        got = inside.communicate(timeout=10)[0]
    assert "anyone" in got


def test_delay_is_added(helper_dir):
    with natlab.Lab("public", "public", delay_ms=50, helper_dir=helper_dir) as lab:
        result = lab.run("client", [sys.executable, "-c", textwrap.dedent("""
            import socket, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            start = time.monotonic()
            s.sendto(b"x", ("203.0.113.1", 9))  # nobody listens: measure the ICMP reply
            try:
                s.recv(10)
            except OSError:
                pass
            print(time.monotonic() - start)
        """)])
    assert float(result.stdout) >= 0.09  # 50 ms at the holepuncher's edge and back at ours


@pytest.mark.parametrize("server_kind,client_kind", matrix.CI_PAIRS)
def test_ruphin_connects(ruphin_bin, helper_dir, server_kind, client_kind):
    ok, _ = matrix.trial(ruphin_bin, server_kind, client_kind, 0, 0.0, helper_dir)
    assert ok


def test_ruphin_connects_with_delay_and_loss(ruphin_bin, helper_dir):
    results = [matrix.trial(ruphin_bin, "restricted", "restricted", 10, 0.05, helper_dir)
               for _ in range(3)]
    assert all(ok for ok, _ in results)


def test_no_namespace_is_left_behind():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"rl{os.getpid()}-" not in out
