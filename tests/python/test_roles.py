"""Each role's behaviour over real loopback sockets."""
import socket
import threading
import time

import pytest

import ruphin
from pyhelpers import FAST, pump, saw, serving

E = ruphin.EventType


def echo_round_trip(server, client, payload):
    client.send(payload)
    data, peer = server.recv(timeout=5)
    server.send(data, peer)
    return client.recv(timeout=5)


def test_register_join_connect_and_exchange(connected):
    hp, server, client = connected
    assert echo_round_trip(server, client, b"ping") == b"ping"
    assert hp.stats()["sessions"] == 1


def test_holepuncher_without_session_events_still_introduces():
    # session_events=0: nothing to read for whoever runs it, the same service
    with ruphin.Holepuncher(("127.0.0.1", 0), session_events=0) as hp, \
            ruphin.Server(hp.local_address, b"unreported", **FAST) as server:
        events = pump(hp, server, until=saw(server, E.REGISTERED))
        with ruphin.Client(hp.local_address, b"unreported", **FAST) as client:
            events += pump(hp, server, client, until=saw(client, E.CONNECTED))
            assert [e.type for n, e in events if n is hp] == []
            assert hp.stats()["sessions"] == 1
            assert echo_round_trip(server, client, b"ping") == b"ping"


def test_not_found_is_a_clear_error(hp):
    with ruphin.Client(hp.local_address, b"nobody-here", **FAST) as client, serving(hp):
        start = time.monotonic()
        with pytest.raises(ruphin.SessionNotFound):
            client.connect(timeout=5)
        assert time.monotonic() - start < 2  # an answer, not a timeout


def test_several_clients_on_one_server(hp):
    with ruphin.Server(hp.local_address, b"lobby", **FAST) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        clients = [ruphin.Client(hp.local_address, b"lobby", **FAST) for _ in range(5)]
        pump(hp, server, *clients,
             until=lambda ev: sum(1 for n, e in ev if n is server and e.type == E.CONNECTED) == 5)
        for i, c in enumerate(clients):
            c.send(b"from %d" % i)
        received = {}
        while len(received) < 5:
            data, peer = server.recv(timeout=5)
            received[peer] = data
            server.send(b"back " + data, peer)
        assert sorted(received.values()) == [b"from %d" % i for i in range(5)]
        for i, c in enumerate(clients):
            assert c.recv(timeout=5) == b"back from %d" % i
            c.close()
        assert server.stats()["peers"] == 5


def test_session_expires_when_its_owner_goes_silent():
    with ruphin.Holepuncher(("127.0.0.1", 0), keepalive_ms=100, missed_keepalives=2) as hp:
        server = ruphin.Server(hp.local_address, b"short", keepalive_ms=100, **FAST)
        pump(hp, server, until=saw(hp, E.SESSION_REGISTERED))
        # Refreshes keep it alive well past its lifetime (2 x 100 ms) ...
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            for n in (hp, server):
                ev = n.poll(0.005)
                assert ev is None or ev.type != E.SESSION_EXPIRED
        assert hp.stats()["sessions"] == 1
        # ... and once the owner is gone it expires.
        server.close()
        events = pump(hp, until=saw(hp, E.SESSION_EXPIRED), timeout=2)
        expired = [e for _, e in events if e.type == E.SESSION_EXPIRED][0]
        assert expired.data == b"short"
        assert hp.stats()["sessions"] == 0


def test_client_notices_a_vanished_server(hp):
    server = ruphin.Server(hp.local_address, b"gone", keepalive_ms=50, missed_keepalives=2,
                           **FAST)
    pump(hp, server, until=saw(server, E.REGISTERED))
    with ruphin.Client(hp.local_address, b"gone", keepalive_ms=50, missed_keepalives=2,
                       **FAST) as client:
        pump(hp, server, client, until=saw(client, E.CONNECTED))
        server.close()
        events = pump(hp, client, until=saw(client, E.FAILED), timeout=3)
        failed = [e for n, e in events if n is client and e.type == E.FAILED][0]
        assert failed.error == ruphin.lib.RUPHIN_ERR_PEER_LOST


class LossyProxy:
    """A UDP relay in front of a holepuncher that drops the first `drop`
    datagrams from peers, then forwards everything both ways."""

    def __init__(self, target, drop):
        self.target, self.drop, self.seen = target, drop, 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.address = self.sock.getsockname()
        self.peers = {}  # our upstream socket per peer
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def upstream(self, peer):
        if peer not in self.peers:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            self.peers[peer] = s
        return self.peers[peer]

    def run(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(2048)
                self.seen += 1
                if self.seen > self.drop:
                    self.upstream(peer).sendto(data, self.target)
            except socket.timeout:
                pass
            for peer, s in list(self.peers.items()):
                try:
                    while True:
                        self.sock.sendto(s.recvfrom(2048)[0], peer)
                except BlockingIOError:
                    pass

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()
        for s in self.peers.values():
            s.close()


def test_register_survives_lost_requests(hp):
    proxy = LossyProxy(hp.local_address, drop=3)
    try:
        with ruphin.Server(proxy.address, b"lossy-session", extensions=0, **FAST) as server:
            pump(hp, server, until=saw(server, E.REGISTERED), timeout=5)
            assert proxy.seen >= 4  # three Registers lost, a retransmission got through
    finally:
        proxy.close()


def test_join_survives_lost_requests(hp):
    with ruphin.Server(hp.local_address, b"lossy-session", **FAST) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        proxy = LossyProxy(hp.local_address, drop=3)
        try:
            # The server knows the proxy's address for the client, which is
            # not where the client is: only a joined handshake through the
            # proxy could connect them, so check the join itself.
            with ruphin.Client(proxy.address, b"lossy-session", extensions=0, **FAST) as client:
                pump(hp, server, client, until=saw(client, E.PEER_ANNOUNCED), timeout=5)
                assert proxy.seen >= 4
        finally:
            proxy.close()


def test_a_second_registrant_does_not_take_the_session(hp, raw):
    with ruphin.Server(hp.local_address, b"mine", **FAST) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        raw.sendto(b"\x00\x08\x00\x02mine", hp.local_address)  # the same id, another address
        pump(hp, server, until=lambda _: hp.stats()["register_conflicts"] == 1)
        raw.settimeout(0.2)
        with pytest.raises(socket.timeout):
            raw.recvfrom(100)  # no RegisterAck for the intruder
        with ruphin.Client(hp.local_address, b"mine", **FAST) as client:
            pump(hp, server, client, until=saw(client, E.CONNECTED))
            assert client.server_address[1] == server.local_address[1]
        with pytest.raises(socket.timeout):
            raw.recvfrom(100)  # and no PeerInfo about the client either


def test_ipv6_end_to_end():
    with ruphin.Holepuncher(("::1", 0), **FAST) as hp, \
            ruphin.Server(hp.local_address, b"six", **FAST) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        with ruphin.Client(hp.local_address, b"six", **FAST) as client:
            pump(hp, server, client, until=saw(client, E.CONNECTED))
            assert client.server_address[0] == "::1"
            assert echo_round_trip(server, client, b"v6") == b"v6"


def test_generation_0_peers_still_connect():
    """Peers limited to the original protocol, as an original ruphin would be,
    through a holepuncher that serves original servers (mode 1)."""
    with ruphin.Holepuncher(("127.0.0.1", 0), no_amplification=1, **FAST) as hp, \
            ruphin.Server(hp.local_address, b"old-peers", extensions=0, **FAST) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        with ruphin.Client(hp.local_address, b"old-peers", extensions=0, **FAST) as client:
            pump(hp, server, client, until=saw(client, E.CONNECTED))
            assert echo_round_trip(server, client, b"v0") == b"v0"


def test_original_servers_need_mode_1(hp):
    """By default a session registered the original way is not joined: its
    owner cannot prove its address, and the Join would make the holepuncher
    send it a PeerInfo it never asked for (docs/SECURITY.md)."""
    with ruphin.Server(hp.local_address, b"old-server", extensions=0, **FAST) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        with ruphin.Client(hp.local_address, b"old-server",
                           **{**FAST, "handshake_timeout_ms": 500}) as client:
            events = pump(hp, server, client, until=saw(client, E.FAILED))
            assert not any(e.type == E.PEER_ANNOUNCED for _, e in events)
        assert hp.stats()["rx_refused"] > 0
