#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/seeds/<target>/) from readable scripts.

A script step is 3 bytes (flags, clock advance in ms, datagram length) and the
datagram; flags bit 0 = tick instead of datagram, bits 1-2 = source address
index (0 = the holepuncher, 1 = 198.51.100.2:4000, 2 = 192.0.2.3:5000,
3 = [2001:db8::9]:6000), bit 3 = the application sends the bytes as Data
(a server: to that address); the holepuncher target reads bit 4 of the first
step as "no amplification checks" (fuzz_holepuncher.c). See fuzz/harness.h.
"""
import os
import struct

HP, PEER1, PEER2, PEER6 = 0, 1, 2, 3


def frame(ftype, payload=b""):
    return struct.pack(">HH", 4 + len(payload), ftype) + payload


def peer_info_v4(ip, port):
    return frame(4, bytes([4]) + bytes(ip) + struct.pack(">H", port))


def peer_info_v6(ip16, port):
    return frame(4, bytes([6]) + bytes(ip16) + struct.pack(">H", port))


def dgram(src, data, advance=1):
    return bytes([src << 1, advance, len(data)]) + data


def tick(advance):
    return bytes([1, advance, 0])


def send(data, to=0, advance=1):
    """The application sends data (a server: to the address of index `to`)."""
    return bytes([8 | to << 1, advance, len(data)]) + data


def addr_v4(ip, port):
    return bytes([4]) + bytes(ip) + struct.pack(">H", port)


def join_ext(sid, locals_=b"", count=0, pad_to=33):
    body = bytes([len(sid)]) + sid + bytes([count]) + locals_
    return frame(12, body + bytes(max(0, pad_to - 4 - len(body))))


def peer_info_ext(nonce, flags, addr, locals_=b"", count=0):
    return frame(13, struct.pack(">QB", nonce, flags) + addr + bytes([count]) + locals_)


def peer_info_resume(nonce, flags, addr, resume):
    """PeerInfoExt to an owner about a joiner resuming the connection of
    nonces `resume` (flag 64, the two nonces after the local addresses)."""
    return frame(13, struct.pack(">QB", nonce, flags | 64) + addr + b"\x00"
                 + struct.pack(">QQ", *resume))


def join_resume(sid, cookie, resume):
    return frame(12, bytes([len(sid)]) + sid + b"\x00" + struct.pack(">QQQ", cookie, *resume))


def hello_ext(kind, nonce):
    return frame(14, struct.pack(">BQ", kind, nonce))


def relay(nonce, payload=b""):
    return frame(15, struct.pack(">Q", nonce) + payload)


def sealed(kind, sender, receiver, counter, body=b""):
    """A Sealed frame: the body is ciphertext then the 16-byte tag (here made up)."""
    return frame(16, struct.pack(">BQQQ", kind, sender, receiver, counter) + body + bytes(16))


def claim(sid, token, cookie):
    """RegisterExt with a proof: no local addresses, token, cookie."""
    return frame(11, bytes([len(sid)]) + sid + b"\x00" + struct.pack(">QQ", token, cookie))


def ack_ext(sid, token, cookie):
    return frame(17, bytes([len(sid)]) + sid + struct.pack(">QQ", token, cookie))


def join_cookie(sid, cookie):
    return frame(12, bytes([len(sid)]) + sid + b"\x00" + struct.pack(">Q", cookie))


def unregister(sid, token):
    return frame(18, bytes([len(sid)]) + sid + struct.pack(">Q", token))


PROBE = frame(6, b"\xffruphin/1")
CAPS = frame(10, b"\x01")
CAPS_COOKIE = frame(10, b"\x01" + struct.pack(">Q", 4))
CAPS2 = frame(10, b"\x02" + struct.pack(">Q", 4))  # version 2: takes resumed joins
PEER1_INFO = peer_info_v4([198, 51, 100, 2], 4000)
PEER2_INFO = peer_info_v4([192, 0, 2, 3], 5000)
PEER6_INFO = peer_info_v6([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [9], 6000)

SEEDS = {
    "wire": {
        "hello_req": frame(8), "hello_resp": frame(9), "interrupt": frame(1),
        "register": frame(2, b"abc"), "join": frame(3, b"abc"), "ack": frame(6, b"abc"),
        "not_found": frame(7, b"abc"), "data": frame(5, b"hello"),
        "peer_info_v4": PEER1_INFO, "peer_info_v6": PEER6_INFO,
        "probe": PROBE, "capabilities": CAPS, "register_ext": frame(11, b"\x02id\x00"),
        "join_ext": join_ext(b"id", addr_v4([10, 0, 0, 3], 5000), 1),
        "peer_info_ext": peer_info_ext(3, 1, addr_v4([192, 0, 2, 3], 5000)),
        "hello_ext": hello_ext(0, 3),
        "relay": relay(3, b"data"),
        "sealed_hello": sealed(0, 5, 6, 1), "sealed_data": sealed(1, 5, 6, 2, b"ciphertext"),
        "capabilities_cookie": CAPS_COOKIE, "claim": claim(b"id", 1, 2),
        "register_ack_ext": ack_ext(b"id", 1, 2), "join_cookie": join_cookie(b"id", 3),
        "unregister": unregister(b"id", 5),
        "join_resume": join_resume(b"id", 3, (1, 2)),
        "peer_info_resume": peer_info_resume(3, 1, addr_v4([192, 0, 2, 3], 5000), (1, 2)),
        "hello_bye": hello_ext(2, 3),
    },
    "holepuncher": {
        "register_join": dgram(PEER1, frame(2, b"id")) + dgram(PEER2, frame(3, b"id"))
        + tick(200) + tick(200),
        "conflict_expiry": dgram(PEER1, frame(2, b"id")) + dgram(PEER2, frame(2, b"id"))
        + tick(255) + dgram(PEER2, frame(2, b"id")),
        "ext": dgram(PEER1, PROBE) + dgram(PEER1, frame(11, b"\x02id\x00"))
        + dgram(PEER2, join_ext(b"id", addr_v4([10, 0, 0, 3], 5000), 1)) + tick(100),
        "relay": dgram(PEER1, frame(11, b"\x02id\x00")) + dgram(PEER2, join_ext(b"id"))
        + dgram(PEER2, relay(1)) + dgram(PEER1, relay(1, b"back")) + tick(100),
        "claim_move": dgram(PEER1, PROBE) + dgram(PEER1, claim(b"id", 0, 4))
        + dgram(PEER2, claim(b"id", 1, 4)) + dgram(PEER2, PROBE) + dgram(PEER2, join_cookie(b"id", 4))
        + dgram(PEER1, frame(2, b"id")) + dgram(PEER2, unregister(b"id", 1)) + tick(100),
        "full_table": b"".join(dgram(PEER1, frame(2, bytes([i]))) for i in range(10))
        + dgram(PEER6, frame(3, bytes([3]))) + tick(255),
        # A client resumes its connection (nonces 1, 2): the owner hears of it
        # with the nonces; then from another address again.
        # (0x10: the first step's flag for mode 0, harness: joins answered
        # without cookies.)
        "resume_join": bytes([0x10 | PEER1 << 1]) + dgram(PEER1, PROBE)[1:]
        + dgram(PEER1, claim(b"id", 0, 4))
        + dgram(PEER2, PROBE) + dgram(PEER2, join_resume(b"id", 4, (1, 2)))
        + dgram(PEER6, join_resume(b"id", 0, (3, 0))) + tick(100),
    },
    "server": {
        "connect": dgram(HP, frame(6, b"id")) + dgram(HP, PEER2_INFO) + tick(5)
        + dgram(PEER2, frame(8)) + dgram(PEER2, frame(5, b"hi")) + tick(60) + tick(200),
        "hello_first": dgram(HP, frame(6, b"id")) + dgram(PEER6, frame(9))
        + dgram(HP, PEER6_INFO) + dgram(PEER6, frame(5, b"x")),
        "register_timeout": tick(100) + tick(100) + tick(150),
        "relay": dgram(HP, CAPS) + dgram(HP, frame(6, b"id"))
        + dgram(HP, peer_info_ext(2, 3, addr_v4([192, 0, 2, 3], 5000)))
        + dgram(HP, relay(2)) + dgram(HP, relay(2, b"x")) + tick(60),
        "ext_adopt": dgram(HP, CAPS) + dgram(HP, frame(6, b"id"))
        + dgram(HP, peer_info_ext(2, 1, addr_v4([192, 0, 2, 3], 5000), addr_v4([10, 0, 0, 3], 5000), 1))
        + tick(5) + dgram(PEER1, hello_ext(0, 2)) + dgram(PEER1, frame(5, b"x")),
        "registration_lost": dgram(HP, frame(6, b"id")) + tick(60) + tick(60) + tick(60),
        "claim": dgram(HP, CAPS_COOKIE) + dgram(HP, ack_ext(b"id", 7, 8)) + tick(60)
        + dgram(HP, ack_ext(b"id", 9, 8)) + tick(60),
        # A generation-1 client connects, talks, goes silent (probes, PATH_LOST),
        # resumes from another address (nonce 3), proves it there: PATH_RESTORED.
        "recover": dgram(HP, CAPS) + dgram(HP, frame(6, b"id"))
        + dgram(HP, peer_info_ext(2, 1, addr_v4([192, 0, 2, 3], 5000)))
        + tick(5) + dgram(PEER2, hello_ext(0, 2)) + send(b"x", PEER2) + tick(40) * 5
        + send(b"lost", PEER2)
        + dgram(HP, peer_info_resume(3, 1, addr_v4([198, 51, 100, 2], 4000), (2, 0)))
        + tick(5) + dgram(PEER1, hello_ext(0, 3)) + dgram(PEER1, frame(5, b"y")) + tick(60),
        # Lost, and never back: DISCONNECTED after the recovery timeout.
        "recover_timeout": dgram(HP, CAPS) + dgram(HP, frame(6, b"id"))
        + dgram(HP, peer_info_ext(2, 1, addr_v4([192, 0, 2, 3], 5000)))
        + tick(5) + dgram(PEER2, hello_ext(0, 2)) + tick(40) * 6 + tick(255) * 3,
        "bye": dgram(HP, CAPS) + dgram(HP, frame(6, b"id"))
        + dgram(HP, peer_info_ext(2, 1, addr_v4([192, 0, 2, 3], 5000)))
        + tick(5) + dgram(PEER2, hello_ext(0, 2)) + dgram(PEER2, hello_ext(2, 2)),
    },
    "client": {
        "connect": dgram(HP, PEER1_INFO) + tick(5) + dgram(PEER1, frame(9))
        + dgram(PEER1, frame(5, b"hi")) + tick(60) + tick(200),
        "not_found": tick(10) + dgram(HP, frame(7, b"id")),
        "data_connects": dgram(HP, PEER6_INFO) + dgram(PEER6, frame(5, b"x")),
        "timeout": dgram(HP, PEER1_INFO) + tick(200) + tick(200),
        "relay": dgram(HP, CAPS) + dgram(HP, peer_info_ext(2, 3, addr_v4([198, 51, 100, 2], 4000)))
        + tick(120) + tick(120) + dgram(HP, relay(2)) + dgram(HP, relay(2, b"x")) + tick(60),
        "ext_adopt": dgram(HP, CAPS) + dgram(HP, peer_info_ext(2, 1, addr_v4([198, 51, 100, 2], 4000)))
        + dgram(PEER2, hello_ext(0, 2)) + dgram(PEER2, frame(5, b"x")) + tick(60),
        "cookie": dgram(HP, CAPS_COOKIE) + tick(5)
        + dgram(HP, peer_info_ext(2, 1, addr_v4([198, 51, 100, 2], 4000))) + tick(60),
        # Connected to a generation-1 server, talking; the server goes silent:
        # probes, PATH_LOST, a resumed join; the server shows up elsewhere with
        # the new nonce: PATH_RESTORED.
        "recover": dgram(HP, CAPS2) + dgram(HP, peer_info_ext(2, 1, addr_v4([198, 51, 100, 2], 4000)))
        + dgram(PEER1, hello_ext(0, 2)) + send(b"x") + tick(40) * 5
        + send(b"lost") + dgram(HP, peer_info_ext(3, 1, addr_v4([192, 0, 2, 3], 5000)))
        + dgram(PEER2, hello_ext(0, 3)) + send(b"y") + tick(60),
        "recover_not_found": dgram(HP, CAPS2)
        + dgram(HP, peer_info_ext(2, 1, addr_v4([198, 51, 100, 2], 4000)))
        + dgram(PEER1, hello_ext(0, 2)) + tick(40) * 6 + dgram(HP, frame(7, b"id")),
        "recover_timeout": dgram(HP, CAPS2)
        + dgram(HP, peer_info_ext(2, 1, addr_v4([198, 51, 100, 2], 4000)))
        + dgram(PEER1, hello_ext(0, 2)) + tick(40) * 6 + tick(255) * 3,
        "bye": dgram(HP, CAPS2) + dgram(HP, peer_info_ext(2, 1, addr_v4([198, 51, 100, 2], 4000)))
        + dgram(PEER1, hello_ext(0, 2)) + dgram(PEER1, hello_ext(2, 2)),
    },
}


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
    for target, seeds in SEEDS.items():
        os.makedirs(os.path.join(root, target), exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(root, target, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
