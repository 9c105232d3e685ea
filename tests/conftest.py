"""Fixtures shared by the whole suite."""
import os
import socket
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def build_dir():
    """The CMake build to test (RUPHIN_BUILD_DIR, default build/), built if missing."""
    path = os.environ.get("RUPHIN_BUILD_DIR", os.path.join(ROOT, "build"))
    if not os.path.exists(os.path.join(path, "libruphin.so")):
        subprocess.run(["cmake", "-S", ROOT, "-B", path], check=True, capture_output=True)
        subprocess.run(["cmake", "--build", path, "-j2"], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def ruphin_bin(build_dir):
    """The ruphin program of that build."""
    path = os.path.join(build_dir, "ruphin")
    assert os.path.exists(path), f"{path} was not built"
    return path


@pytest.fixture(scope="session")
def free_udp_port():
    """A function giving a UDP port that was free a moment ago on a host."""
    def pick(host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
            return s.getsockname()[1]
    return pick
