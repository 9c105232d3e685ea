"""ruphin.aio: the nodes on an asyncio loop, without threads."""
import asyncio
import os
import subprocess
import sys

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
