"""The holepuncher's relay (opt-in) over real sockets: with the direct path
between two peers blocked (iptables on loopback, so root), they connect
through it, and it carries Data of the peers' full max payload, sealed or
not (docs/PROTOCOL.md, Relay)."""
import os
import shutil

import pytest

import ruphin
from pyhelpers import FAST, direct_path_blocked, pump, saw

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("iptables"),
                                reason="blocking the direct path needs root and iptables")

E = ruphin.EventType
MAX_PAYLOAD = 1024  # the default, as the original


def relayed_pair(hp, key, **options):
    options = dict(FAST, relay_rate=300, key=key, **options)  # peers: relay after 300 ms
    server = ruphin.Server(hp.local_address, b"relayed", **options)
    pump(hp, server, until=saw(server, E.REGISTERED))
    return server, ruphin.Client(hp.local_address, b"relayed", **options)


def relayed(hp, server, client):
    events = pump(hp, server, client, until=lambda ev: saw(client, E.RELAYED)(ev)
                  and saw(server, E.RELAYED)(ev))
    assert not any(e.type == E.CONNECTED for _, e in events)
    assert client.state == ruphin.State.RELAYED


def data_event(nodes, node):
    events = pump(*nodes, until=saw(node, E.DATA))
    return [e for n, e in events if n is node and e.type == E.DATA][0]


@pytest.mark.parametrize("sealed", [False, True], ids=["plain", "sealed"])
def test_the_relay_carries_the_full_max_payload(sealed):
    if sealed and not ruphin.SEAL_SUPPORTED:
        pytest.skip("this build has no libsodium (sealed sessions are off)")
    key = ruphin.generate_key() if sealed else None
    with ruphin.Holepuncher(("127.0.0.1", 0), relay_rate=1 << 20, **FAST) as hp:
        server, client = relayed_pair(hp, key)
        with server, client, direct_path_blocked(server, client):
            nodes = (hp, server, client)
            relayed(*nodes)
            up, down = os.urandom(MAX_PAYLOAD), os.urandom(MAX_PAYLOAD)
            client.send(up)
            ev = data_event(nodes, server)
            assert ev.data == up
            server.send(down, ev.peer)
            assert data_event(nodes, client).data == down
            assert hp.stats()["rx_malformed"] == 0


def test_the_relay_drops_what_exceeds_its_own_max_payload():
    with ruphin.Holepuncher(("127.0.0.1", 0), relay_rate=1 << 20, **FAST) as hp:
        server, client = relayed_pair(hp, None, max_payload=2 * MAX_PAYLOAD)
        with server, client, direct_path_blocked(server, client):
            nodes = (hp, server, client)
            relayed(*nodes)
            client.send(b"x" * 2 * MAX_PAYLOAD)
            events = pump(*nodes, until=lambda _: hp.stats()["rx_malformed"] == 1)
            client.send(b"y" * MAX_PAYLOAD)
            assert data_event(nodes, server).data == b"y" * MAX_PAYLOAD
            assert not any(e.type == E.DATA and len(e.data) > MAX_PAYLOAD for _, e in events)
