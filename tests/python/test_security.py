"""Spoofed sources (raw sockets, root, loopback): requests that claim to come
from a victim never make the holepuncher send the victim more bytes than the
requests had."""
import os
import socket
import struct
import time

import pytest

import ruphin
from pyhelpers import pump, saw

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")


def udp_packet(src, dst, payload):
    """An IPv4/UDP packet from src to dst (the kernel fills the IP checksum)."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    return ip + udp


def frame(ftype, payload):
    return struct.pack("!HH", 4 + len(payload), ftype) + payload


def claim(sid, token=0, cookie=0):
    """RegisterExt with a proof: id, no local addresses, token, cookie."""
    return frame(11, bytes([len(sid)]) + sid + b"\x00" + struct.pack("!QQ", token, cookie))


def join_ext(sid, cookie):
    """JoinExt with a cookie and no padding (shorter than its answer)."""
    return frame(12, bytes([len(sid)]) + sid + b"\x00" + struct.pack("!Q", cookie))


def spoof(raw, src, dst, payload):
    raw.sendto(udp_packet(src, dst, payload), (dst[0], 0))


def drain(sock):
    """The datagrams waiting on a non-blocking socket."""
    out = []
    try:
        while True:
            out.append(sock.recv(2048))
    except BlockingIOError:
        return out


def test_spoofed_requests_do_not_amplify_toward_the_victim():
    with ruphin.Holepuncher(("127.0.0.1", 0)) as hp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as victim, \
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        victim.bind(("127.0.0.2", 0))
        victim.setblocking(False)
        server = ruphin.Server(hp.local_address, b"real-session")
        pump(hp, server, until=saw(server, ruphin.EventType.REGISTERED))
        requests = [b"\x00\x04\x00\x08",                       # HelloReq
                    b"\x00\x07\x00\x03abc",                    # short Join, unknown id
                    b"\x00\x10\x00\x03real-session",           # Join of the live session
                    b"\x00\x08\x00\x03real",                   # Join of an unknown id
                    b"\x00\x0d\x00\x06\xffruphin/1",           # probe
                    b"\x00\x0c\x00\x02victim-id",              # Register
                    claim(b"real-session", 1234, 5678),          # a guessed token
                    claim(b"victim-claim"),                      # a claim of a new id
                    join_ext(b"real-session", 5678)]             # a guessed cookie
        sent = 0
        for _ in range(50):
            for payload in requests:
                raw.sendto(udp_packet(victim.getsockname(), hp.local_address, payload),
                           (hp.local_address[0], 0))
                sent += len(payload)
        received, end = 0, time.monotonic() + 1
        while time.monotonic() < end:
            hp.poll(0.01)
            server.poll(0)
            try:
                while True:
                    received += len(victim.recv(100))
            except BlockingIOError:
                pass
        server.close()
    assert 0 < received <= sent


@pytest.mark.parametrize("mode", [1, 2])
def test_spoofed_owners_are_never_told_about_joiners(mode):
    """Sessions registered in a victim's name, then joined from elsewhere:
    the victim gets no PeerInfo, only acks no larger than the spoofed
    requests. Claimed sessions (a proof, as our servers register) in the
    default mode; in the strict mode (2) also ids registered the original
    way, whose owners cannot prove their address."""
    with ruphin.Holepuncher(("127.0.0.1", 0), no_amplification=mode) as hp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as victim, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as joiner, \
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        victim.bind(("127.0.0.2", 0))
        joiner.bind(("127.0.0.1", 0))
        for s in (victim, joiner):
            s.setblocking(False)
        requests = [claim(b"claimed-id", 0, 42)] + ([frame(2, b"plain-id")] if mode == 2 else [])
        for payload in requests:
            spoof(raw, victim.getsockname(), hp.local_address, payload)
        for _ in range(20):
            for sid in (b"claimed-id", b"plain-id"):
                joiner.sendto(frame(3, sid), hp.local_address)  # long enough for its answer
                joiner.sendto(frame(12, bytes([len(sid)]) + sid + bytes(40)), hp.local_address)
        got = []
        for _ in range(50):
            hp.poll(0.01)
            got += drain(victim)
        acks = {b"\x00\x02": b"\x00\x06", b"\x00\x0b": b"\x00\x11"}  # by request type
        assert sorted(d[2:4] for d in got) == sorted(acks[p[2:4]] for p in requests)
        assert sum(map(len, got)) <= sum(map(len, requests))
        peer_infos = [d for d in drain(joiner) if d[2:4] in (b"\x00\x04", b"\x00\x0d")]
        assert peer_infos == [] and hp.stats()["rx_refused"] > 0


def test_local_interrupt_from_another_host_is_unexpected():
    """LocalInterrupt wakes a poll only from this host (docs/PROTOCOL.md): one
    that claims another source is dropped and counted, a loopback one wakes."""
    interrupt = frame(1, b"")
    with ruphin.Holepuncher(("127.0.0.1", 0)) as hp, \
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        spoof(raw, ("192.0.2.99", 4000), hp.local_address, interrupt)
        pump(hp, until=lambda _: hp.stats()["rx_unexpected"] == 1)
        spoof(raw, ("127.0.0.5", 4000), hp.local_address, interrupt)
        events = pump(hp, until=saw(hp, ruphin.EventType.WAKE))
        assert [(e.type, e.peer) for _, e in events] == [(ruphin.EventType.WAKE, ("127.0.0.5", 4000))]


def hello_ext(kind, nonce):
    return frame(14, struct.pack("!BQ", kind, nonce))


def test_a_spoofed_new_address_does_not_move_the_path():
    """Path recovery adopts a peer's new address only when the peer proves
    itself with its join's nonce (docs/SECURITY.md): while a client's path is
    lost, datagrams claiming to be it from a new address, or from its old
    one without the nonce (hellos with guessed nonces, Data, a bye), restore
    nothing and deliver nothing; toward the client, hellos claiming to be
    its server from elsewhere move nothing either. When the real client
    speaks again, the path comes back where it was."""
    E = ruphin.EventType
    quick = dict(retransmit_ms=20, retransmit_max_ms=100, punch_interval_ms=20, keepalive_ms=200)
    with ruphin.Holepuncher(("127.0.0.1", 0)) as hp, \
            ruphin.Server(hp.local_address, b"roaming-session", **quick) as server, \
            ruphin.Client(hp.local_address, b"roaming-session", **quick) as client, \
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        pump(hp, server, until=saw(server, E.REGISTERED))
        pump(hp, server, client, until=lambda ev: saw(client, E.CONNECTED)(ev)
             and saw(server, E.CONNECTED)(ev))
        where = ("127.0.0.1", client.local_address[1])  # it is bound to the wildcard
        server_at = client.server_address
        elsewhere = ("127.0.0.9", where[1])
        # Toward the client, while connected: nothing moves its server.
        for payload in (hello_ext(0, 0x4141414141414141), hello_ext(1, 7), frame(5, b"evil")):
            spoof(raw, ("127.0.0.9", server_at[1]), where, payload)
        events = pump(client, hp, server, until=lambda _: client.stats()["rx_unexpected"] >= 3)
        assert client.server_address == server_at
        assert E.DATA not in [e.type for n, e in events if n is client]
        # The client goes quiet (not polled): the server finds its path lost.
        events = pump(hp, server, until=saw(server, E.PATH_LOST), timeout=5)
        lost = [e for n, e in events if n is server and e.type == E.PATH_LOST]
        assert [e.peer for e in lost] == [where]
        forged = [(elsewhere, hello_ext(0, 0x4242424242424242)), (elsewhere, hello_ext(1, 1)),
                  (elsewhere, frame(8, b"")), (elsewhere, frame(5, b"evil")),
                  (where, hello_ext(0, 0x4343434343434343)), (where, hello_ext(2, 5))]
        for src, payload in forged:
            spoof(raw, src, server.local_address, payload)
        # Data from an unproven address, a hello with another nonce and a bye
        # without it from the client's own are counted as unexpected; the
        # hellos from elsewhere are kept as unannounced (never answered).
        events = pump(hp, server, until=lambda _: server.stats()["rx_unexpected"] >= 3)
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            events += pump(hp, server, until=lambda _: True)
            time.sleep(0.01)
        assert [e.type for n, e in events if n is server] == []
        assert server.stats()["peers"] == 0  # still lost: not connected, not moved
        # The real client comes back and proves its nonce where it was.
        events = pump(hp, server, client, until=saw(server, E.PATH_RESTORED), timeout=5)
        restored = [e for n, e in events if n is server and e.type == E.PATH_RESTORED]
        assert [e.peer for e in restored] == [where]
        assert ruphin.previous_address(restored[0]) is None  # it did not move
        client.send(b"real")
        events = pump(hp, server, client, until=saw(server, E.DATA))
        assert [e.data for n, e in events if n is server and e.type == E.DATA] == [b"real"]
