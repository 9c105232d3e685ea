"""NAT rebinding and address changes in the NAT lab.

Ownership across a real NAT rebinding (docs/SECURITY.md): the server's
router forgets its mappings and maps the server again from other ports, as
a home router does after a restart or a timeout. The server's next refresh
moves its session to the new address, and a client that joins afterwards
connects to it there.

Path recovery (docs/RECOVERY.md; issue 21): a session in
progress survives the client's router rebinding, the server's, both, a
router reboot (everything dropped for a few seconds, mappings gone) and the
client's host changing its address, with the program's client and no
option beyond --keepalive-ms 1000: one trial of each change here (CI);
tests/natlab/recovery.py runs the full grid and writes the measurements
(docs/NAT.md, "When a path breaks")."""
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402
import matrix  # noqa: E402
import recovery  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.natlab]
WHY = natlab.available()
if WHY:
    pytestmark.append(pytest.mark.skip(reason=WHY))

# Below the ephemeral range (32768-60999 by default), so that the port the
# server's socket got, which its NAT keeps, is never one of them.
NEW_PORTS = range(20000, 21000)


def rebind(lab, role):
    """The role's router maps from NEW_PORTS from now on and forgets every
    mapping it had."""
    router = lab.routers[role][-1]
    lab.sh(router, f"iptables -t nat -I POSTROUTING 1 -o wan -p udp -j MASQUERADE "
                   f"--to-ports {NEW_PORTS.start}-{NEW_PORTS.stop - 1}")
    lab.sh(router, "conntrack -D -p udp >/dev/null 2>&1 || true")


def registrations(hp_log, session):
    """The ports the holepuncher reported the session registered from."""
    with open(hp_log) as f:
        return [int(port) for port in
                re.findall(rf"SESSION_REGISTERED {session} [\d.]+:(\d+)", f.read())]


def wait_until(condition, timeout):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_the_owner_keeps_its_session_when_its_nat_rebinds(ruphin_bin):
    with natlab.Lab("restricted", "public") as lab, tempfile.TemporaryDirectory() as logs:
        hp_log, server_log, client_log = (os.path.join(logs, f"{n}.log")
                                          for n in ("hp", "server", "client"))
        assert matrix.start(lab, "holepuncher", [ruphin_bin, "holepuncher", "--listen", matrix.HP],
                            hp_log, "listening", 5)
        assert matrix.start(lab, "server", [ruphin_bin, "server", "-H", matrix.HP, "-s", "roam",
                                            "--echo", "--keepalive-ms", "300"],
                            server_log, "REGISTERED", 15)
        wait_until(lambda: registrations(hp_log, "roam"), 5)
        assert registrations(hp_log, "roam")[0] not in NEW_PORTS
        rebind(lab, "server")
        # The next refresh comes from a new port: the session moves there.
        wait_until(lambda: len(registrations(hp_log, "roam")) == 2, 5)
        assert registrations(hp_log, "roam")[1] in NEW_PORTS
        with open(client_log, "w") as err:
            client = lab.popen("client", [ruphin_bin, "client", "-H", matrix.HP, "-s", "roam",
                                          "--count", "3", "--timeout", "10"],
                               stdout=subprocess.DEVNULL, stderr=err)
        client.wait(40)
        result = matrix.read_result(client_log, client.returncode)
        assert result.ok, (result.why, open(server_log).read(), open(hp_log).read())
        assert result.path == "direct"


@pytest.mark.parametrize("change", recovery.CHANGES)
def test_a_session_survives(ruphin_bin, change):
    """The client sends a line every 250 ms and the server echoes it; after
    the change, echoes come back within 3 s (for a reboot: of the router's
    return), the client never gave up, both reported the path lost and
    restored, and the server printed only lines the client sent."""
    result = recovery.trial(ruphin_bin, change, delay_ms=20)
    assert result.ok, result
    assert result.recovery_ms <= recovery.TARGET_MS, result
    assert result.lost_ms is not None and result.restored_ms is not None, result
