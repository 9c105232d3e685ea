"""The classic BPF program of a holepuncher group (core/src/steer.c), which
spreads datagrams over SO_REUSEPORT workers by session id, run by
bench/reuseport.c. Every frame about one id must reach the same worker,
whichever source sends it: the worker the FNV-1a hash of the id names. Each
worker answers with its index in byte 2."""
import os
import socket
import struct
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKERS = 3


def fnv1a(data):
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    binary = str(tmp_path_factory.mktemp("reuseport") / "reuseport")
    subprocess.run(["cc", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                    "-I", os.path.join(ROOT, "bench"), "-I", os.path.join(ROOT, "core", "src"),
                    os.path.join(ROOT, "bench", "reuseport.c"),
                    os.path.join(ROOT, "core", "src", "steer.c"), "-lpthread", "-o", binary],
                   check=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([binary, "127.0.0.1", str(port), str(WORKERS)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    sources = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(6)]
    for s in sources:
        s.settimeout(5)
    yield port, sources
    proc.kill()
    proc.wait()
    for s in sources:
        s.close()


def worker_for(group, frame):
    """The workers that answered the frame, sent once from each source."""
    port, sources = group
    answered = set()
    for s in sources:
        s.sendto(frame, ("127.0.0.1", port))
        answered.add(s.recv(256)[2])
    return answered


def session_ids():
    for i in range(120):
        yield (f"session-{i}-".encode() * 3)[:i % 21]  # 0 to 20 bytes


def test_register_and_join_of_an_id_reach_its_worker(group):
    used = set()
    for ident in session_ids():
        expected = fnv1a(ident) % WORKERS
        for frame_type in (2, 3):  # Register, Join
            frame = struct.pack(">HH", 4 + len(ident), frame_type) + ident
            assert worker_for(group, frame) == {expected}, ident
        used.add(expected)
    assert used == set(range(WORKERS))  # the ids spread over all workers


def test_extension_frames_follow_the_same_id(group):
    for ident in session_ids():
        for frame_type in (11, 12, 18):  # RegisterExt, JoinExt, Unregister: u8 length, id, ...
            body = struct.pack(">B", len(ident)) + ident + bytes(12)
            frame = struct.pack(">HH", 4 + len(body), frame_type) + body
            assert worker_for(group, frame) == {fnv1a(ident) % WORKERS}, ident


def test_relay_frames_follow_the_nonce(group):
    for nonce in (1, 2, 3, 0x0102030405060708, 0xFFFFFFFFFFFFFFFF):
        frame = struct.pack(">HHQ", 12, 15, nonce) + b"payload"
        frame = struct.pack(">H", len(frame)) + frame[2:]
        assert worker_for(group, frame) == {(nonce & 0xFFFFFFFF) % WORKERS}


def test_other_frames_are_answered_by_some_worker(group):
    # HelloReq carries no id: the kernel's 4-tuple hash picks the worker.
    assert worker_for(group, b"\x00\x04\x00\x08") <= set(range(WORKERS))
