"""Bad input: every malformed or out-of-place datagram is dropped and
counted, never crashes anything, never changes a session."""
import socket
import struct

import pytest
from hypothesis import given, settings, strategies as st

import ruphin
from pyhelpers import FAST, pump, saw

E = ruphin.EventType

MALFORMED = [
    b"",                                   # empty
    b"\x00",                               # truncated header
    b"\x00\x05\x00\x08",                   # length field says 5, datagram has 4
    b"\x00\x04\x00\x08extra",              # trailing bytes
    b"\x00\x04\x00\x63",                   # unknown type
    b"\x00\x04\xff\xff",                   # unknown type
    b"\x00\x05\x00\x09x",                  # HelloResp with a payload
    b"\x00\x19\x00\x02" + b"x" * 21,       # session id of 21 bytes
    b"\x00\x0a\x00\x04\x04\x01\x02\x03\x04\x00",  # PeerInfo too short
    struct.pack(">HH", 4 + 2000, 5) + b"x" * 2000,  # oversized: Data beyond max_payload
    struct.pack(">HH", 4 + 600, 2) + b"x" * 600,    # oversized: a Register of 600 bytes
]


def send_all(sock, target, datagrams):
    for d in datagrams:
        sock.sendto(d, target)


def test_malformed_datagrams_are_counted_everywhere(connected, raw):
    hp, server, client = connected
    for node in (hp, server, client):
        before = node.stats()["rx_malformed"]
        send_all(raw, node.local_address, MALFORMED)
        pump(hp, server, client,
             until=lambda _: node.stats()["rx_malformed"] == before + len(MALFORMED))
    # Everything still works.
    client.send(b"still here")
    assert server.recv(timeout=5)[0] == b"still here"
    assert hp.stats()["sessions"] == 1


def test_data_from_a_stranger_is_not_delivered(connected, raw):
    hp, server, client = connected
    before = (server.stats()["rx_unexpected"], client.stats()["rx_unexpected"])
    send_all(raw, server.local_address, [b"\x00\x09\x00\x05intro"])
    send_all(raw, client.local_address, [b"\x00\x09\x00\x05intro"])
    events = pump(hp, server, client, until=lambda _: (
        server.stats()["rx_unexpected"], client.stats()["rx_unexpected"])
        == (before[0] + 1, before[1] + 1))
    assert not [e for _, e in events if e.type == E.DATA]


def test_local_interrupt_needs_allow_interrupt(raw):
    """A LocalInterrupt from loopback wakes a poll, unless the node turned
    ALLOW_INTERRUPT off: then it is unexpected, and wake() is not supported."""
    interrupt = b"\x00\x04\x00\x01"
    with ruphin.Holepuncher(("127.0.0.1", 0)) as hp, \
            ruphin.Holepuncher(("127.0.0.1", 0), allow_interrupt=0) as deaf:
        raw.sendto(interrupt, deaf.local_address)
        raw.sendto(interrupt, hp.local_address)
        events = pump(hp, deaf, until=lambda ev: saw(hp, E.WAKE)(ev)
                      and deaf.stats()["rx_unexpected"] == 1)
        assert not [n for n, e in events if n is deaf]
        with pytest.raises(ruphin.NotSupported):
            deaf.wake()


def test_peer_info_from_a_stranger_is_ignored(connected, raw):
    hp, server, client = connected
    fake = b"\x00\x0b\x00\x04\x04\x7f\x00\x00\x01\x00\x07"
    send_all(raw, server.local_address, [fake])
    pump(hp, server, client, until=lambda _: server.stats()["rx_unexpected"] >= 1)
    assert not [e for _, e in pump(hp, server, until=lambda _: True)
                if e.type == E.PEER_ANNOUNCED]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20))
def test_random_datagrams_never_break_the_holepuncher(datagrams):
    with ruphin.Holepuncher(("127.0.0.1", 0), **FAST) as hp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        server = ruphin.Server(hp.local_address, b"keep", **FAST)
        pump(hp, server, until=saw(server, E.REGISTERED))
        send_all(s, hp.local_address, datagrams)
        send_all(s, server.local_address, datagrams)
        s.sendto(b"\x00\x04\x00\x08", hp.local_address)  # then a valid HelloReq
        s.settimeout(2)
        pump(hp, server, until=lambda _: hp.stats()["rx_datagrams"] >= len(datagrams) + 1)
        answers = []
        while b"\x00\x04\x00\x09" not in answers:  # still answering HelloReq
            answers.append(s.recvfrom(100)[0])
        # The session is intact unless a datagram was a valid Register/Join
        # of the same id from our socket, which cannot take it either.
        assert hp.stats()["sessions"] >= 1
        with ruphin.Client(hp.local_address, b"keep", **FAST) as client:
            pump(hp, server, client, until=saw(client, E.CONNECTED))
            assert client.server_address[1] == server.local_address[1]
        server.close()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=1024))
def test_payloads_round_trip_exactly(connected_module, payload):
    hp, server, client = connected_module
    client.send(payload)
    data, peer = server.recv(timeout=5)
    assert data == payload
    server.send(data, peer)
    assert client.recv(timeout=5) == payload
