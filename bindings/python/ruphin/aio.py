"""asyncio integration: the nodes driven by the event loop through their
socket descriptor and next deadline (no extra thread).

    async with ruphin.aio.Client(hp_address, b"game") as client:
        await client.connect()
        client.send(b"hello")
        print(await client.recv())
"""
import asyncio
from typing import Any, List, Optional, Tuple, TypeVar

from ._addr import Address, AddressLike
from ._node import Client as _Client, Event, EventType, Holepuncher as _Holepuncher
from ._node import Node, Server as _Server, SessionId
from ._ruphin import lib
from .errors import Error, error_for


BACKLOG = 1024  # events other than DATA kept unread, the oldest dropped first


class _Driven:
    """Runs a node on the running loop: polls it when its socket is readable
    and when its deadline comes, and sorts its events into queues. Once the
    node failed or was closed, every wait ends with that failure (Stopped
    after close), after the events that came before it."""

    def __init__(self, node: Node, backlog: int = BACKLOG) -> None:
        if backlog < 1:
            raise ValueError("backlog must be >= 1")
        self.node = node
        self._loop = asyncio.get_running_loop()
        self._data: "asyncio.Queue[Event]" = asyncio.Queue()
        self._other: "asyncio.Queue[Event]" = asyncio.Queue()
        self._backlog = backlog
        self._end: Optional[Event] = None  # the FAILED event that ended it
        self._timer: Optional[asyncio.TimerHandle] = None
        self._fd = node.fileno()
        self._loop.add_reader(self._fd, self._run)
        self._loop.call_soon(self._run)

    def _run(self) -> None:
        if self._end is not None:
            return
        while events := self._poll():
            for ev in events:
                if ev.type == EventType.DATA:
                    self._data.put_nowait(ev)
                elif ev.type == EventType.FAILED:
                    self._finish(ev)
                    return
                else:
                    self._keep(ev)
        self._schedule()

    def _poll(self) -> List[Event]:
        """node.poll_many(0) (the events ready, in one call), with an error
        turned into the FAILED event that ends the node (raised here, it
        would reach no waiter)."""
        try:
            return self.node.poll_many(0)
        except Error as e:
            return [Event(EventType.FAILED, error=e.code)]

    def _keep(self, ev: Event) -> None:
        """Queues a non-DATA event; nobody may ever read a holepuncher's, so
        only the latest `backlog` are kept."""
        if self._other.qsize() >= self._backlog:
            self._other.get_nowait()
        self._other.put_nowait(ev)

    def _finish(self, end: Event) -> None:
        """Stops watching the node (its socket may stay readable for ever)
        and hands end to every waiter, present and future."""
        self._end = end
        if self._timer is not None:
            self._timer.cancel()
        self._loop.remove_reader(self._fd)
        self._data.put_nowait(end)
        self._other.put_nowait(end)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        timeout = self.node.timeout()
        self._timer = None if timeout is None else self._loop.call_later(timeout, self._run)

    async def _next(self, queue: "asyncio.Queue[Event]", timeout: Optional[float]) -> Event:
        ev = await asyncio.wait_for(queue.get(), timeout)
        if ev is self._end:
            queue.put_nowait(ev)  # it stays, for the next waiter
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
        if self._end is None:
            self._finish(Event(EventType.FAILED, error=lib.RUPHIN_ERR_STOPPED))
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
        """The next event other than DATA (of the latest `backlog` unread)."""
        return await self._driven.next_event(timeout)


class Holepuncher(_AsyncNode):
    """A holepuncher served by the running loop; await next_event() to log."""

    def __init__(self, bind: Optional[AddressLike] = None, *, backlog: int = BACKLOG,
                 **options: int) -> None:
        self._driven = _Driven(_Holepuncher(bind, **options), backlog)


class Server(_AsyncNode):
    def __init__(self, holepuncher: AddressLike, session: SessionId, *,
                 bind: Optional[AddressLike] = None, key: Optional[bytes] = None,
                 backlog: int = BACKLOG, **options: int) -> None:
        self._driven = _Driven(_Server(holepuncher, session, bind=bind, key=key, **options),
                               backlog)

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
                 backlog: int = BACKLOG, **options: int) -> None:
        self._driven = _Driven(_Client(holepuncher, session, bind=bind, key=key, **options),
                               backlog)

    async def connect(self, timeout: Optional[float] = 10.0) -> Address:
        """Waits until connected; raises SessionNotFound, Timeout, ..."""
        await self._driven.wait_for(EventType.CONNECTED, timeout)
        return self.node.server_address

    async def recv(self, timeout: Optional[float] = None) -> bytes:
        return (await self._driven.next_data(timeout)).data

    def send(self, data: bytes) -> None:
        self.node.send(data)
