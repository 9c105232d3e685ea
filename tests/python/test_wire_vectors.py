"""Byte-exact generation-0 frames, exchanged with a running holepuncher
through a plain socket (an original ruphin peer sends exactly these)."""
import socket
import struct

import pytest

import ruphin
from pyhelpers import FAST, pump, saw


def frame(ftype, payload=b""):
    return struct.pack(">HH", 4 + len(payload), ftype) + payload


def exchange(hp, sock, datagram, expect_from=None):
    """Sends datagram to hp, lets it work, returns what sock receives."""
    sock.sendto(datagram, hp.local_address)
    pump(hp, until=lambda _: True, timeout=1)
    for _ in range(50):
        hp.poll(0.002)
    return sock.recvfrom(100)[0]


def test_register_gets_exact_ack(hp, raw):
    assert frame(2, b"abc") == b"\x00\x07\x00\x02abc"
    assert exchange(hp, raw, frame(2, b"abc")) == b"\x00\x07\x00\x06abc"


def test_hello_gets_hello_response(hp, raw):
    assert exchange(hp, raw, b"\x00\x04\x00\x08") == b"\x00\x04\x00\x09"


def test_join_of_unknown_session_gets_exact_not_found(hp, raw):
    assert exchange(hp, raw, frame(3, b"nope")) == b"\x00\x08\x00\x07nope"


def test_join_gets_exact_peer_info_on_both_sides(raw):
    with ruphin.Holepuncher(("127.0.0.1", 0), no_amplification=1) as hp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as joiner:  # serves original servers
        exchange(hp, raw, frame(2, b"session1"))
        joiner.bind(("127.0.0.1", 0))
        joiner.settimeout(2)
        to_joiner = exchange(hp, joiner, frame(3, b"session1"))
        to_owner = raw.recvfrom(100)[0]
        owner_port, joiner_port = raw.getsockname()[1], joiner.getsockname()[1]
    assert to_joiner == b"\x00\x0b\x00\x04\x04\x7f\x00\x00\x01" + struct.pack(">H", owner_port)
    assert to_owner == b"\x00\x0b\x00\x04\x04\x7f\x00\x00\x01" + struct.pack(">H", joiner_port)


def test_ipv6_peer_info_is_23_bytes():
    with ruphin.Holepuncher(("::1", 0), no_amplification=1) as hp, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as owner, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as joiner:
        for s in (owner, joiner):
            s.bind(("::1", 0))
            s.settimeout(2)
        sid = b"an-ipv6-session-id!"  # 19 bytes: a Join as long as the 23-byte answer
        exchange(hp, owner, frame(2, sid))
        to_joiner = exchange(hp, joiner, frame(3, sid))
        owner_port = owner.getsockname()[1]
    assert len(to_joiner) == 23
    assert to_joiner == (b"\x00\x17\x00\x04\x06" + socket.inet_pton(socket.AF_INET6, "::1")
                         + struct.pack(">H", owner_port))


def test_short_join_gets_no_larger_answer(hp, raw):
    """The no-amplification rule (docs/SECURITY.md): a Join shorter than its
    answer is refused; with the rule off, as in the original, it is answered."""
    exchange(hp, raw, frame(2, b"abc"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as joiner:
        joiner.bind(("127.0.0.1", 0))
        joiner.settimeout(0.3)
        with pytest.raises(socket.timeout):
            exchange(hp, joiner, frame(3, b"abc"))
    assert hp.stats()["rx_refused"] == 1
    with ruphin.Holepuncher(("127.0.0.1", 0), no_amplification=0) as lax, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as joiner:
        exchange(lax, raw, frame(2, b"abc"))
        joiner.bind(("127.0.0.1", 0))
        joiner.settimeout(2)
        assert len(exchange(lax, joiner, frame(3, b"abc"))) == 11


def test_probe_gets_capabilities(hp, raw):
    """The generation-1 probe (docs/PROTOCOL.md): a RegisterAck to a
    holepuncher. The answer, version 2 (1 before resumed joins, which peers
    read alike) and a cookie for the sender's address, is as long as the
    probe; the cookie is the same for the same address."""
    probe = frame(6, b"\xffruphin/1")
    answer = exchange(hp, raw, probe)
    assert answer[:5] == b"\x00\x0d\x00\x0a\x02" and len(answer) == len(probe) == 13
    # The same cookie again (once more: a 30 s key window may end in between).
    again = [exchange(hp, raw, probe) for _ in range(2)]
    assert answer[5:] != bytes(8) and (again[0] == answer or again[1] == again[0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", 0))
        other.settimeout(2)
        assert exchange(hp, other, probe)[5:] != answer[5:]


JOIN_PROBE_NATLAB = bytes.fromhex(
    "0018 0006 ff6a 06 6e61746c6162 01 04 0a000003 1388 000000")  # docs/PROTOCOL.md


def test_join_probe_is_answered_at_once(hp, raw):
    """The join probe of docs/PROTOCOL.md, byte for byte, from a plain socket
    that has no cookie: the holepuncher answers at once with a PeerInfoExt
    no longer than the probe, and tells the owner about the joiner."""
    server = ruphin.Server(hp.local_address, b"natlab", **FAST)
    try:
        pump(hp, server, until=saw(server, ruphin.EventType.REGISTERED))
        assert len(JOIN_PROBE_NATLAB) == 24
        answer = exchange(hp, raw, JOIN_PROBE_NATLAB)
        assert struct.unpack(">HH", answer[:4]) == (21, 13)  # PeerInfoExt, 21 bytes
        # nonce, flags (speaks generation 1; port 5000 is not the one seen;
        # the owner's local addresses have its port), then its address.
        assert answer[12] == 1 | 4 | 32
        assert answer[13:] == (b"\x04\x7f\x00\x00\x01"
                               + struct.pack(">H", server.local_address[1]) + b"\x00")
        events = pump(server, until=saw(server, ruphin.EventType.PEER_ANNOUNCED), timeout=2)
        announced = [e for _, e in events if e.type == ruphin.EventType.PEER_ANNOUNCED]
        assert announced and announced[0].peer == raw.getsockname()
        assert hp.stats()["rx_refused"] == 0
    finally:
        server.close()
