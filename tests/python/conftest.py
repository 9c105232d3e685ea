"""Fixtures for the Python package's tests."""
import socket

import pytest

ruphin = pytest.importorskip("ruphin", reason="the ruphin package is not installed "
                             "(scripts/test.sh installs it into .venv)")

from pyhelpers import FAST, pump, saw  # noqa: E402  (after the import check)


@pytest.fixture
def hp():
    with ruphin.Holepuncher(("127.0.0.1", 0), **FAST) as node:
        yield node


@pytest.fixture
def raw():
    """A plain UDP socket on loopback, for hand-made datagrams."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        yield s


@pytest.fixture
def connected(hp):
    """A holepuncher, a server and a connected client."""
    server = ruphin.Server(hp.local_address, b"game", **FAST)
    pump(hp, server, until=saw(server, ruphin.EventType.REGISTERED))
    client = ruphin.Client(hp.local_address, b"game", **FAST)
    pump(hp, server, client, until=lambda ev: saw(client, ruphin.EventType.CONNECTED)(ev)
         and saw(server, ruphin.EventType.CONNECTED)(ev))
    yield hp, server, client
    client.close()
    server.close()


@pytest.fixture(scope="module")
def connected_module():
    """Like connected, shared by a module (hypothesis runs a test many times)."""
    with ruphin.Holepuncher(("127.0.0.1", 0), **FAST) as hp:
        server = ruphin.Server(hp.local_address, b"game", **FAST)
        pump(hp, server, until=saw(server, ruphin.EventType.REGISTERED))
        client = ruphin.Client(hp.local_address, b"game", **FAST)
        pump(hp, server, client, until=saw(client, ruphin.EventType.CONNECTED))
        yield hp, server, client
        client.close()
        server.close()
