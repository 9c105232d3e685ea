"""The core's C unit tests, and property tests of its wire codec through ctypes."""
import ctypes
import glob
import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

UNIT_TESTS = ["test_wire", "test_sessions", "test_machines", "test_ext", "test_owner", "test_node",
              "test_runner", "test_seal", "test_sock"]


@pytest.mark.parametrize("name", UNIT_TESTS)
def test_c_unit(build_dir, name):
    exe = os.path.join(build_dir, "tests", "c", name)
    assert os.path.exists(exe), f"{exe} not built"
    # The sanitizer pass turns leak detection off for Python, which leaks by
    # design; these programs must not leak (the runner's queues above all).
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1"}
    result = subprocess.run([exe], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_segmentation_offload_falls_back_on_a_small_mtu(build_dir, linux_extras):
    """A path whose MTU is below a segment size refuses GSO (EMSGSIZE): the
    datagrams go again without it. Loopback in a network namespace of its
    own, with an MTU of 1300."""
    if not linux_extras:
        pytest.skip("the portable path sends without segmentation offload")
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("a network namespace needs root, unshare and ip")
    exe = os.path.join(build_dir, "tests", "c", "test_sock")
    result = subprocess.run(["unshare", "-n", "sh", "-c",
                             f"ip link set lo mtu 1300 up && exec {exe} --small-mtu"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   test_gso_falls_back_on_a_small_mtu" in result.stdout


def test_runner_under_thread_sanitizer(tmp_path):
    """The active runner shares queues between threads: ThreadSanitizer must
    find no data race in its test."""
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang is not installed (scripts/test.sh installs it)")
    exe = str(tmp_path / "test_runner_tsan")
    subprocess.run([clang, "-std=c11", "-g", "-O1", "-fsanitize=thread",
                    "-I", os.path.join(ROOT, "core", "include"),
                    "-I", os.path.join(ROOT, "core", "src"),  # thread.h, through testnet.h
                    os.path.join(ROOT, "tests", "c", "test_runner.c"),
                    *glob.glob(os.path.join(ROOT, "core", "src", "*.c")),
                    "-lpthread", "-o", exe], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # no ASan runtime here
    result = subprocess.run([exe], capture_output=True, text=True, timeout=120,
                            env={**env, "TSAN_OPTIONS": "halt_on_error=1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ThreadSanitizer" not in result.stderr
    assert " 0 failed" in result.stdout


class Addr(ctypes.Structure):
    _fields_ = [("family", ctypes.c_uint8), ("reserved", ctypes.c_uint8),
                ("port", ctypes.c_uint16), ("scope_id", ctypes.c_uint32),
                ("ip", ctypes.c_uint8 * 16)]


@pytest.fixture(scope="module")
def shim(build_dir):
    lib = ctypes.CDLL(os.path.join(build_dir, "tests", "c", "libruphin_wire_shim.so"))
    lib.shim_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.POINTER(ctypes.c_uint16), ctypes.POINTER(ctypes.c_size_t),
                                ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(Addr)]
    for name in ("shim_encode_empty", "shim_encode_session", "shim_encode_peer_info",
                 "shim_encode_data"):
        getattr(lib, name).restype = ctypes.c_size_t
    lib.shim_encode_empty.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint16]
    lib.shim_encode_session.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint16,
                                        ctypes.c_char_p, ctypes.c_size_t]
    lib.shim_encode_peer_info.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Addr)]
    lib.shim_encode_data.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                     ctypes.c_size_t]
    return lib


def decode(lib, data):
    """Returns (status, type, payload, peer)."""
    t, off, n, peer = ctypes.c_uint16(), ctypes.c_size_t(), ctypes.c_size_t(), Addr()
    status = lib.shim_decode(data, len(data), ctypes.byref(t), ctypes.byref(off),
                             ctypes.byref(n), ctypes.byref(peer))
    return status, t.value, data[off.value:off.value + n.value], peer


def encode(lib, fn, *args):
    buf = ctypes.create_string_buffer(70000)
    n = fn(buf, len(buf), *args)
    return buf.raw[:n]


EMPTY_TYPES = [1, 8, 9]
SESSION_TYPES = [2, 3, 6, 7]


def reference_frame(ftype, payload):
    """The v0 framing as the spec states it, written independently of the C code."""
    return (4 + len(payload)).to_bytes(2, "big") + ftype.to_bytes(2, "big") + payload


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SESSION_TYPES), st.binary(max_size=20))
def test_session_frames_round_trip(shim, ftype, sid):
    frame = encode(shim, shim.shim_encode_session, ftype, sid, len(sid))
    assert frame == reference_frame(ftype, sid)
    assert decode(shim, frame)[:3] == (0, ftype, sid)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_data_frames_round_trip(shim, payload):
    frame = encode(shim, shim.shim_encode_data, payload, len(payload))
    assert frame == reference_frame(5, payload)
    assert decode(shim, frame)[:3] == (0, 5, payload)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([4, 6]), st.binary(min_size=16, max_size=16), st.integers(0, 65535))
def test_peer_info_round_trip(shim, family, ip, port):
    addr = Addr(family=family, port=port)
    ctypes.memmove(addr.ip, ip, 16)
    frame = encode(shim, shim.shim_encode_peer_info, ctypes.byref(addr))
    ip_len = 4 if family == 4 else 16
    assert frame == reference_frame(4, bytes([family]) + ip[:ip_len] + port.to_bytes(2, "big"))
    status, ftype, _, peer = decode(shim, frame)
    assert (status, ftype, peer.family, peer.port) == (0, 4, family, port)
    assert bytes(peer.ip)[:ip_len] == ip[:ip_len]


def read_addrs(body, count):
    """Skips count (family, ip, port) addresses; None when malformed."""
    for _ in range(count):
        if not body or body[0] not in (4, 6):
            return None
        size = 1 + (4 if body[0] == 4 else 16) + 2
        if len(body) < size:
            return None
        body = body[size:]
    return body


def read_locals(body):
    if not body or body[0] > 4:
        return None
    return read_addrs(body[1:], body[0])


def ext_status(ftype, body):
    """Generation 1 payloads as docs/PROTOCOL.md lays them out."""
    if ftype == 10:  # Capabilities: a version byte, then anything
        return 0 if body else -4
    if ftype in (11, 12):  # RegisterExt, JoinExt: id, locals, proof, zero padding
        if not body or body[0] > 20 or len(body) < 1 + body[0]:
            return -4
        rest = read_locals(body[1 + body[0]:])
        proof = 16 if ftype == 11 else 8  # token and cookie, or a cookie
        if rest is not None and len(rest) >= proof:
            rest = rest[proof:]
        return 0 if rest is not None and not any(rest) else -4
    if ftype == 18:  # Unregister: id, token
        return 0 if body and body[0] <= 20 and len(body) == 1 + body[0] + 8 else -4
    if ftype == 17:  # RegisterAckExt: id, token, cookie
        return 0 if body and body[0] <= 20 and len(body) == 1 + body[0] + 16 else -4
    if ftype == 13:  # PeerInfoExt: nonce, flags, address, locals
        rest = read_addrs(body[9:], 1) if len(body) >= 9 else None
        rest = read_locals(rest) if rest is not None else None
        return 0 if rest == b"" else -4
    if ftype == 15:  # Relay: a nonce, then any payload
        return 0 if len(body) >= 8 else -4
    if ftype == 16:  # Sealed: kind, two epochs, counter, ciphertext, 16-byte tag
        kind_ok = len(body) >= 41 and body[0] in (0, 1)
        return 0 if kind_ok and (body[0] == 1 or len(body) == 41) else -4
    return 0 if len(body) == 9 and body[0] in (0, 1) else -4  # HelloExt


def spec_status(data):
    """The decoder's verdict as docs/PROTOCOL.md states it."""
    if len(data) < 4:
        return -1  # truncated
    if int.from_bytes(data[:2], "big") != len(data):
        return -2  # length field differs from the datagram
    ftype, body = int.from_bytes(data[2:4], "big"), data[4:]
    if ftype not in range(1, 19):
        return -3  # unknown type
    if ftype >= 10:
        return ext_status(ftype, body)
    valid = ((ftype in EMPTY_TYPES and not body)
             or (ftype in SESSION_TYPES and len(body) <= 20)
             or ftype == 5
             or (ftype == 4 and ((len(body) == 7 and body[0] == 4)
                                 or (len(body) == 19 and body[0] == 6))))
    return 0 if valid else -4


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_crash_and_verdict_matches_spec(shim, data):
    status, _, payload, _ = decode(shim, data)
    assert status == spec_status(data)
    if status == 0 and data[2:4] != b"\x00\x04":
        assert payload == data[4:]


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 19), st.binary(max_size=60))
def test_well_framed_bytes_decode_like_the_spec(shim, ftype, body):
    """The same, with the length field right, so that every type is reached."""
    frame = reference_frame(ftype, body)
    assert decode(shim, frame)[0] == spec_status(frame)
