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
                    b"\x00\x0c\x00\x02victim-id"]              # Register
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
