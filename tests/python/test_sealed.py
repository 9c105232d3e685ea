"""Sealed sessions: a server and clients that share a key connect only with
each other, their datagrams are encrypted on the wire, and forged, tampered
and replayed datagrams are dropped and counted (raw sockets, root, loopback)."""
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

import ruphin
from pyhelpers import FAST, pump, saw
from test_security import udp_packet

pytestmark = pytest.mark.skipif(not ruphin.SEAL_SUPPORTED,
                                reason="this build has no libsodium (sealed sessions are off)")

SEALED = 0x10  # frame type


def both_connected(server, client):
    return lambda ev: saw(client, ruphin.EventType.CONNECTED)(ev) and \
        saw(server, ruphin.EventType.CONNECTED)(ev)


def sealed_pair(hp, key, client_key=None, **options):
    options = {**FAST, **options}
    server = ruphin.Server(hp.local_address, b"sealed", key=key, **options)
    pump(hp, server, until=saw(server, ruphin.EventType.REGISTERED))
    client = ruphin.Client(hp.local_address, b"sealed", key=client_key, **options)
    return server, client


def recv_data(nodes, node, timeout=3.0):
    events = pump(*nodes, until=saw(node, ruphin.EventType.DATA), timeout=timeout)
    return [e for n, e in events if n is node and e.type == ruphin.EventType.DATA][0]


def recv_all(nodes, node, count, timeout=3.0):
    def enough(events):
        return sum(n is node and e.type == ruphin.EventType.DATA for n, e in events) >= count
    events = pump(*nodes, until=enough, timeout=timeout)
    return [e for n, e in events if n is node and e.type == ruphin.EventType.DATA]


def test_keys_are_checked():
    assert len(ruphin.generate_key()) == ruphin.KEY_LEN
    assert ruphin.generate_key() != ruphin.generate_key()
    with pytest.raises(ruphin.InvalidArgument):
        ruphin.Client(("127.0.0.1", 9), b"x", key=b"short")


def test_sealed_peers_connect_and_exchange(hp):
    key = ruphin.generate_key()
    server, client = sealed_pair(hp, key, key)
    with server, client:
        pump(hp, server, client, until=both_connected(server, client))
        assert client.state == ruphin.State.CONNECTED
        client.send(b"sealed hello")
        ev = recv_data((hp, server, client), server)
        assert ev.data == b"sealed hello"
        server.send(b"sealed answer", ev.peer)
        assert recv_data((hp, server, client), client).data == b"sealed answer"
        client.send_many([b"sealed one", b"sealed two"])  # each sealed in a slot of its own
        assert [e.data for e in recv_all((hp, server, client), server, 2)] == \
            [b"sealed one", b"sealed two"]
        assert server.stats()["rx_rejected"] == client.stats()["rx_rejected"] == 0


def test_no_early_data_on_a_sealed_session(hp):
    """Before CONNECTED (the server has not proven the key) send refuses."""
    key = ruphin.generate_key()
    server, client = sealed_pair(hp, key, key)
    with server, client:
        pump(hp, server, client, until=saw(client, ruphin.EventType.PEER_ANNOUNCED))
        assert client.state != ruphin.State.CONNECTED  # the seal needs more round trips
        with pytest.raises(ruphin.NotConnected):
            client.send(b"too early")
        pump(hp, server, client, until=both_connected(server, client))
        client.send(b"in time")


def failures(events, node, kind):
    return [e.error for n, e in events if n is node and e.type == kind]


@pytest.mark.parametrize("client_key", [None, "other"])
def test_a_client_without_the_key_fails_soon_with_a_clear_error(hp, client_key):
    """A client with another key, or none, ends with RUPHIN_ERR_AUTH as soon
    as the server's first SealHellos reach it (three that do not verify, or
    one at all), long before the handshake timeout of 10 s; the server drops
    a client with another key as soon (its SealHellos do not verify either)
    and never reports either as connected."""
    key = ruphin.generate_key()
    other = ruphin.generate_key() if client_key == "other" else None
    server, client = sealed_pair(hp, key, other, handshake_timeout_ms=10000)
    with server, client:
        events = pump(hp, server, client, until=saw(client, ruphin.EventType.FAILED), timeout=4)
        assert failures(events, client, ruphin.EventType.FAILED) == [-21]  # RUPHIN_ERR_AUTH
        assert client.state == ruphin.State.FAILED
        assert "same key" in ruphin.AuthenticationFailed(-21).message
        if other is not None:
            if not failures(events, server, ruphin.EventType.PUNCH_FAILED):
                events += pump(hp, server, client,
                               until=saw(server, ruphin.EventType.PUNCH_FAILED), timeout=4)
            assert failures(events, server, ruphin.EventType.PUNCH_FAILED) == [-21]
        assert not any(n is server and e.type in (ruphin.EventType.CONNECTED,
                                                  ruphin.EventType.DATA) for n, e in events)
        assert server.stats()["peers"] == 0


def test_plain_data_from_a_keyless_client_ends_its_handshake_at_the_server(hp):
    """A keyless client that sends before it learns the session is sealed
    shows the server it has no key: dropped at once (PUNCH_FAILED,
    RUPHIN_ERR_AUTH), not after the handshake timeout."""
    key = ruphin.generate_key()
    server, client = sealed_pair(hp, key, None, handshake_timeout_ms=10000,
                                 accept_unverified=0)
    with server, client:
        events = pump(hp, server, client, until=saw(client, ruphin.EventType.PEER_ANNOUNCED))
        client.send(b"plain text")  # early data: the keyless client cannot know yet
        events += pump(hp, server, client, until=saw(server, ruphin.EventType.PUNCH_FAILED),
                       timeout=4)
        assert failures(events, server, ruphin.EventType.PUNCH_FAILED) == [-21]
        assert server.stats()["rx_rejected"] >= 1


class Sniffer:
    """Every UDP payload seen on loopback (AF_PACKET, root), by destination port."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("lo", 0))
        self.sock.setblocking(False)

    def drain(self):
        """[(src (ip, port), dst port, payload)] of the IPv4/UDP packets seen so far."""
        seen = []
        try:
            while True:
                frame = self.sock.recv(70000)
                ip = frame[14:]
                if ip[9] != socket.IPPROTO_UDP:
                    continue
                ihl = (ip[0] & 15) * 4
                sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
                seen.append(((socket.inet_ntoa(ip[12:16]), sport), dport, ip[ihl + 8:]))
        except BlockingIOError:
            return seen

    def close(self):
        self.sock.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="sniffing and spoofing need root")
def test_tampered_replayed_and_forged_datagrams_are_dropped(hp):
    key = ruphin.generate_key()
    sniffer = Sniffer()
    server, client = sealed_pair(hp, key, key)
    with server, client, socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                       socket.IPPROTO_RAW) as raw:
        pump(hp, server, client, until=both_connected(server, client))
        secret = b"attack at dawn, bring snacks"
        port = server.local_address[1]
        for _ in range(5):  # other traffic on loopback may overflow the sniffer: try again
            sniffer.drain()
            client.send(secret)
            assert recv_data((hp, server, client), server).data == secret
            sealed = [(src, p) for src, dport, p in sniffer.drain()
                      if dport == port and p[2:4] == struct.pack("!H", SEALED) and p[4] == 1]
            if sealed:
                break
        assert len(sealed) == 1
        src, datagram = sealed[0]
        assert secret not in datagram  # encrypted on the wire

        def inject(payload):
            raw.sendto(udp_packet(src, server.local_address, payload), (server.local_address[0], 0))

        tampered = bytearray(datagram)
        tampered[-20] ^= 1
        forged = datagram[:29] + os.urandom(len(datagram) - 29)  # right header, made-up body
        for attack in (datagram, bytes(tampered), forged, datagram):  # the replay, twice
            inject(attack)
        time.sleep(0.2)
        events = pump(hp, server, client, until=lambda ev: server.stats()["rx_rejected"] >= 4)
        assert not any(n is server and e.type == ruphin.EventType.DATA for n, e in events)
        assert server.stats()["rx_rejected"] == 4
        client.send(b"still works")  # the attack cost the session nothing
        assert recv_data((hp, server, client), server).data == b"still works"
    sniffer.close()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("iptables"),
                    reason="blocking the direct path needs root and iptables")
def test_sealed_peers_through_the_relay(hp_relay):
    """With the direct path blocked (iptables on loopback), sealed peers
    connect through the holepuncher's relay and still seal their Data."""
    key = ruphin.generate_key()
    server, client = sealed_pair(hp_relay, key, key, relay_rate=300)
    rules = [["-p", "udp", "--sport", str(a[1]), "--dport", str(b[1]),
              "-j", "DROP"] for a, b in ((server.local_address, client.local_address),
                                         (client.local_address, server.local_address))]
    for rule in rules:
        subprocess.run(["iptables", "-I", "OUTPUT", *rule], check=True)
    try:
        with server, client:
            events = pump(hp_relay, server, client,
                          until=lambda ev: saw(client, ruphin.EventType.RELAYED)(ev)
                          and saw(server, ruphin.EventType.RELAYED)(ev))
            assert not any(e.type == ruphin.EventType.CONNECTED for _, e in events)
            assert client.state == ruphin.State.RELAYED
            client.send(b"sealed, relayed")
            ev = recv_data((hp_relay, server, client), server)
            assert ev.data == b"sealed, relayed"
            server.send(b"and back", ev.peer)
            assert recv_data((hp_relay, server, client), client).data == b"and back"
            server.send_many([b"relayed one", b"relayed two"], ev.peer)
            assert [e.data for e in recv_all((hp_relay, server, client), client, 2)] == \
                [b"relayed one", b"relayed two"]
    finally:
        for rule in rules:
            subprocess.run(["iptables", "-D", "OUTPUT", *rule], check=False)


@pytest.fixture
def hp_relay():
    with ruphin.Holepuncher(("127.0.0.1", 0), relay_rate=65536, **FAST) as node:
        yield node


def test_sealed_session_on_asyncio():
    import asyncio
    import ruphin.aio

    async def scenario():
        key = ruphin.generate_key()
        async with ruphin.aio.Holepuncher(("127.0.0.1", 0), **FAST) as hp:
            address = hp.node.local_address
            async with ruphin.aio.Server(address, b"aio", key=key, **FAST) as server:
                await server.wait_registered()
                async with ruphin.aio.Client(address, b"aio", key=key, **FAST) as client:
                    await client.connect()
                    client.send(b"sealed on asyncio")
                    return await server.recv(timeout=5)
    data, _ = asyncio.run(scenario())
    assert data == b"sealed on asyncio"
