"""ruphin.aio: the nodes on an asyncio loop, without threads."""
import asyncio
import os
import subprocess
import sys
import threading

import pytest

import ruphin
import ruphin.aio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_asyncio_example_runs():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python",
                                                          "asyncio_echo.py")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "echo: ping 2" in result.stdout


def test_connect_raises_session_not_found():
    async def scenario():
        async with ruphin.aio.Holepuncher(("127.0.0.1", 0)) as hp:
            async with ruphin.aio.Client(hp.node.local_address, b"none",
                                         retransmit_ms=20) as client:
                await client.connect(timeout=5)
    with pytest.raises(ruphin.SessionNotFound):
        asyncio.run(scenario())


def test_timers_run_without_traffic():
    """Retransmissions are driven by the deadline, not by incoming packets:
    a silent holepuncher yields a Timeout once the handshake window closes."""
    async def scenario():
        silent = ruphin.Holepuncher(("127.0.0.1", 0))  # never polled: answers nothing
        try:
            async with ruphin.aio.Client(silent.local_address, b"x", retransmit_ms=10,
                                         handshake_timeout_ms=300) as client:
                await client.connect(timeout=5)
        finally:
            silent.close()
    with pytest.raises(ruphin.Timeout):
        asyncio.run(scenario())


def test_no_thread_is_started():
    """The loop itself drives all three roles: no thread besides the main one."""
    async def scenario():
        async with ruphin.aio.Holepuncher(("127.0.0.1", 0)) as hp:
            async with ruphin.aio.Server(hp.node.local_address, b"t", retransmit_ms=20) as server:
                await server.wait_registered(timeout=5)
                async with ruphin.aio.Client(hp.node.local_address, b"t",
                                             retransmit_ms=20) as client:
                    await client.connect(timeout=5)
                    client.send(b"one")
                    assert (await server.recv(timeout=5))[0] == b"one"
                    return threading.active_count()
    assert threading.active_count() == 1
    assert asyncio.run(scenario()) == 1


async def failed_client():
    """A client whose connect() failed (no such session), and its holepuncher."""
    hp = ruphin.aio.Holepuncher(("127.0.0.1", 0))
    client = ruphin.aio.Client(hp.node.local_address, b"none", retransmit_ms=20)
    with pytest.raises(ruphin.SessionNotFound):
        await client.connect(timeout=5)
    return hp, client


def test_failure_stops_watching_the_socket(raw):
    """After FAILED nothing polls the node: a socket left registered would be
    readable for ever and spin the loop."""
    async def scenario():
        hp, client = await failed_client()
        raw.sendto(b"junk", ("127.0.0.1", client.node.local_address[1]))
        await asyncio.sleep(0.05)
        registered = asyncio.get_running_loop().remove_reader(client.node.fileno())
        client.close()
        hp.close()
        return registered
    assert asyncio.run(scenario()) is False


def test_failure_reaches_every_later_await():
    async def scenario():
        hp, client = await failed_client()
        waiters = [asyncio.ensure_future(client.recv(timeout=5)) for _ in range(2)]
        for coro in (client.connect(timeout=5), client.recv(timeout=5),
                     client.next_event(timeout=5), *waiters):
            with pytest.raises(ruphin.SessionNotFound):
                await coro
        client.close()
        hp.close()
    asyncio.run(scenario())


def test_close_wakes_whoever_waits():
    """close() ends pending and later awaits with Stopped, instead of leaving
    them waiting for ever."""
    async def scenario():
        async with ruphin.aio.Holepuncher(("127.0.0.1", 0)) as hp:
            server = ruphin.aio.Server(hp.node.local_address, b"c", retransmit_ms=20)
            await server.wait_registered(timeout=5)
            pending = asyncio.ensure_future(server.recv())
            await asyncio.sleep(0.01)
            server.close()
            with pytest.raises(ruphin.Stopped):
                await asyncio.wait_for(pending, 5)
            with pytest.raises(ruphin.Stopped):
                await server.recv()
    asyncio.run(scenario())


def test_unread_events_are_bounded():
    """A holepuncher whose events nobody reads keeps only the latest
    `backlog` of them, so it does not grow for ever."""
    async def scenario():
        async with ruphin.aio.Holepuncher(("127.0.0.1", 0), backlog=2) as hp:
            servers = []
            for i in range(4):
                servers.append(ruphin.aio.Server(hp.node.local_address, b"s%d" % i,
                                                 retransmit_ms=20))
                await servers[-1].wait_registered(timeout=5)
            await asyncio.sleep(0.05)
            kept = [await hp.next_event(timeout=1), await hp.next_event(timeout=1)]
            with pytest.raises(asyncio.TimeoutError):
                await hp.next_event(timeout=0.05)
            for server in servers:
                server.close()
            return kept
    kept = asyncio.run(scenario())
    assert [ev.data for ev in kept] == [b"s2", b"s3"]
