"""Ownership across a NAT rebinding of the owner (docs/SECURITY.md): the
owner's traffic really comes from a new port, through a small NAT in the
test that takes a new outside port when told to."""
import socket
import time

import pytest

import ruphin
from pyhelpers import FAST, pump, saw, serving

E = ruphin.EventType


class RebindingNat:
    """A NAT in front of one server, toward the holepuncher: what the server
    sends to .address leaves from the outside port toward the holepuncher,
    and what reaches that port goes back to the server. rebind() takes a new
    outside port, as a NAT does when it dropped a mapping. Polled by pump()."""

    def __init__(self, target):
        self.target = target
        self.inside = self._socket()
        self.address = self.inside.getsockname()
        self.outside = self._socket()
        self.server = None

    @staticmethod
    def _socket():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        return s

    @property
    def outside_address(self):
        return self.outside.getsockname()

    def rebind(self):
        old, self.outside = self.outside, self._socket()
        old.close()

    def poll(self, _timeout):
        for src, forward in ((self.inside, self._out), (self.outside, self._in)):
            try:
                while True:
                    forward(*src.recvfrom(2048))
            except BlockingIOError:
                pass
        return None

    def _out(self, data, server):
        self.server = server
        self.outside.sendto(data, self.target)

    def _in(self, data, _sender):
        self.inside.sendto(data, self.server)

    def close(self):
        self.inside.close()
        self.outside.close()


def registered_at(hp, address):
    """A pump condition: the holepuncher reported the session at address."""
    return lambda events: any(n is hp and e.type == E.SESSION_REGISTERED and
                              tuple(e.peer) == address for n, e in events)


def test_the_owner_keeps_its_session_across_a_nat_rebinding(hp):
    nat = RebindingNat(hp.local_address)
    try:
        with ruphin.Server(nat.address, b"roaming", keepalive_ms=200, **FAST) as server:
            pump(hp, server, nat, until=saw(server, E.REGISTERED))
            nat.rebind()
            # The next refresh comes from the new port with the owner token:
            # the session moves there, no conflict.
            pump(hp, server, nat, until=registered_at(hp, nat.outside_address))
            assert hp.stats()["register_conflicts"] == 0
            with ruphin.Client(hp.local_address, b"roaming", **FAST) as client:
                events = pump(hp, server, nat, client,
                              until=lambda ev: saw(server, E.PEER_ANNOUNCED)(ev) and
                              saw(client, E.PEER_ANNOUNCED)(ev))
                announced = [tuple(e.peer) for n, e in events
                             if n is client and e.type == E.PEER_ANNOUNCED]
                assert announced == [nat.outside_address]  # the owner's new address
    finally:
        nat.close()


def test_without_the_token_a_rebound_owner_is_a_conflict(hp):
    """The control: an owner that registers the original way has only its
    address; from the new port it is refused until the old entry expires."""
    nat = RebindingNat(hp.local_address)
    try:
        with ruphin.Server(nat.address, b"stuck", keepalive_ms=200, extensions=0,
                           **FAST) as server:
            pump(hp, server, nat, until=saw(server, E.REGISTERED))
            old = nat.outside_address
            nat.rebind()
            events = pump(hp, server, nat,
                          until=lambda _: hp.stats()["register_conflicts"] >= 2)
            assert not registered_at(hp, nat.outside_address)(events)
            assert old != nat.outside_address
    finally:
        nat.close()


def test_a_closed_server_ends_its_session_at_once(hp):
    """Closing the server sends an Unregister with its token: the session
    ends now rather than a silence limit (30 s here) later."""
    with ruphin.Server(hp.local_address, b"short-lived", **FAST) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        assert hp.stats()["sessions"] == 1
    pump(hp, until=saw(hp, E.SESSION_EXPIRED), timeout=2)
    assert hp.stats()["sessions"] == 0
    with ruphin.Client(hp.local_address, b"short-lived", **FAST) as client, serving(hp), \
            pytest.raises(ruphin.SessionNotFound):
        client.connect(timeout=5)


def test_a_server_whose_probe_answer_came_late_is_joinable_at_once():
    """With a 1 ms retransmission the server registers the original way before
    the holepuncher's answer to its probe arrives, then claims the session
    from the same address: the claim must take (not wait for the next
    refresh), or the strict default refuses every Join until then."""
    with ruphin.Holepuncher(("127.0.0.1", 0), **FAST) as hp:
        with ruphin.Server(hp.local_address, b"late-probe", **{**FAST, "retransmit_ms": 1}) as server:
            server.poll(0)  # the probe
            time.sleep(0.005)
            server.poll(0)  # past the first retransmission: an original Register
            pump(hp, server, until=saw(server, ruphin.EventType.REGISTERED))
            with ruphin.Client(hp.local_address, b"late-probe", **FAST) as client:
                pump(hp, server, client, until=saw(client, ruphin.EventType.CONNECTED), timeout=3)
