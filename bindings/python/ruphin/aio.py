"""asyncio integration: the nodes driven by the event loop through their
socket descriptor and next deadline (no extra thread).

    async with ruphin.aio.Client(hp_address, b"game") as client:
        await client.connect()
        client.send(b"hello")
        print(await client.recv())
"""
import asyncio
from typing import Any, Optional, Tuple, TypeVar

from ._addr import Address, AddressLike
from ._node import Client as _Client, Event, EventType, Holepuncher as _Holepuncher
from ._node import Node, Server as _Server, SessionId
from ._ruphin import lib
from .errors import error_for


class _Driven:
    """Runs a node on the running loop: polls it when its socket is readable
    and when its deadline comes, and sorts its events into queues."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._loop = asyncio.get_running_loop()
        self._data: "asyncio.Queue[Event]" = asyncio.Queue()
        self._other: "asyncio.Queue[Event]" = asyncio.Queue()
        self._failure: Optional[Event] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._loop.add_reader(node.fileno(), self._run)
        self._loop.call_soon(self._run)

    def _run(self) -> None:
        if self.node.closed or self._failure is not None:
            return
        while (ev := self.node.poll(0)) is not None:
            if ev.type == EventType.FAILED:
                self._failure = ev
            (self._data if ev.type == EventType.DATA else self._other).put_nowait(ev)
            if self._failure is not None:
                self._data.put_nowait(ev)  # wakes a recv() too
                return
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        timeout = self.node.timeout()
        self._timer = None if timeout is None else self._loop.call_later(timeout, self._run)

    async def _next(self, queue: "asyncio.Queue[Event]", timeout: Optional[float]) -> Event:
        ev = await asyncio.wait_for(queue.get(), timeout)
        ev.raise_for_failure()
        return ev

    async def wait_for(self, wanted: EventType, timeout: Optional[float]) -> Event:
        async def until_wanted() -> Event:
            while True:
                ev = await self._next(self._other, None)
                if ev.type == wanted:
                    return ev
        try:
            return await asyncio.wait_for(until_wanted(), timeout)
        except asyncio.TimeoutError:
            raise error_for(lib.RUPHIN_ERR_TIMEOUT, f"no {wanted.name} event") from None

    async def next_data(self, timeout: Optional[float]) -> Event:
        return await self._next(self._data, timeout)

    async def next_event(self, timeout: Optional[float]) -> Event:
        return await self._next(self._other, timeout)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self.node.closed:
            self._loop.remove_reader(self.node.fileno())
            self.node.close()


_A = TypeVar("_A", bound="_AsyncNode")


class _AsyncNode:
    _driven: _Driven

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._driven.close()

    @property
    def node(self) -> Node:
        """The underlying node (its stats(), state, local_address...)."""
        return self._driven.node

    async def next_event(self, timeout: Optional[float] = None) -> Event:
        """The next event other than DATA."""
        return await self._driven.next_event(timeout)


class Holepuncher(_AsyncNode):
    """A holepuncher served by the running loop; await next_event() to log."""

    def __init__(self, bind: Optional[AddressLike] = None, **options: int) -> None:
        self._driven = _Driven(_Holepuncher(bind, **options))


class Server(_AsyncNode):
    def __init__(self, holepuncher: AddressLike, session: SessionId, *,
                 bind: Optional[AddressLike] = None, key: Optional[bytes] = None,
                 **options: int) -> None:
        self._driven = _Driven(_Server(holepuncher, session, bind=bind, key=key, **options))

    async def wait_registered(self, timeout: Optional[float] = 10.0) -> None:
        await self._driven.wait_for(EventType.REGISTERED, timeout)

    async def recv(self, timeout: Optional[float] = None) -> Tuple[bytes, Address]:
        """The next datagram from a client: (data, client address)."""
        ev = await self._driven.next_data(timeout)
        return ev.data, ev.peer

    def send(self, data: bytes, to: AddressLike) -> None:
        self.node.send(data, to)


class Client(_AsyncNode):
    def __init__(self, holepuncher: AddressLike, session: SessionId, *,
                 bind: Optional[AddressLike] = None, key: Optional[bytes] = None,
                 **options: int) -> None:
        self._driven = _Driven(_Client(holepuncher, session, bind=bind, key=key, **options))

    async def connect(self, timeout: Optional[float] = 10.0) -> Address:
        """Waits until connected; raises SessionNotFound, Timeout, ..."""
        await self._driven.wait_for(EventType.CONNECTED, timeout)
        return self.node.server_address

    async def recv(self, timeout: Optional[float] = None) -> bytes:
        return (await self._driven.next_data(timeout)).data

    def send(self, data: bytes) -> None:
        self.node.send(data)
