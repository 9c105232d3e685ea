"""The three roles as Python classes: a thin layer over the C API, which
does all the protocol work."""
import collections
import enum
import math
import time
from dataclasses import dataclass
from typing import (Any, Callable, Deque, Dict, Iterable, List, Optional, Tuple, TypeVar,
                    Union)

from ._ruphin import ffi, lib
from ._addr import Address, AddressLike, from_c, to_c, to_text
from .errors import Failed, InvalidArgument, error_for, check

SessionId = Union[bytes, str]
_N = TypeVar("_N", bound="Node")


class EventType(enum.IntEnum):
    NONE = lib.RUPHIN_EVENT_NONE
    DATA = lib.RUPHIN_EVENT_DATA
    CONNECTED = lib.RUPHIN_EVENT_CONNECTED
    DISCONNECTED = lib.RUPHIN_EVENT_DISCONNECTED
    REGISTERED = lib.RUPHIN_EVENT_REGISTERED
    REGISTRATION_LOST = lib.RUPHIN_EVENT_REGISTRATION_LOST
    PUNCH_FAILED = lib.RUPHIN_EVENT_PUNCH_FAILED
    FAILED = lib.RUPHIN_EVENT_FAILED
    WAKE = lib.RUPHIN_EVENT_WAKE
    SESSION_REGISTERED = lib.RUPHIN_EVENT_SESSION_REGISTERED
    SESSION_EXPIRED = lib.RUPHIN_EVENT_SESSION_EXPIRED
    SESSION_JOINED = lib.RUPHIN_EVENT_SESSION_JOINED
    PEER_ANNOUNCED = lib.RUPHIN_EVENT_PEER_ANNOUNCED
    RELAYED = lib.RUPHIN_EVENT_RELAYED
    PATH_LOST = lib.RUPHIN_EVENT_PATH_LOST
    PATH_RESTORED = lib.RUPHIN_EVENT_PATH_RESTORED


class State(enum.IntEnum):
    IDLE = lib.RUPHIN_STATE_IDLE
    REGISTERING = lib.RUPHIN_STATE_REGISTERING
    REGISTERED = lib.RUPHIN_STATE_REGISTERED
    JOINING = lib.RUPHIN_STATE_JOINING
    PUNCHING = lib.RUPHIN_STATE_PUNCHING
    CONNECTED = lib.RUPHIN_STATE_CONNECTED
    FAILED = lib.RUPHIN_STATE_FAILED
    SERVING = lib.RUPHIN_STATE_SERVING
    RELAYED = lib.RUPHIN_STATE_RELAYED
    RECOVERING = lib.RUPHIN_STATE_RECOVERING


class Role(enum.IntEnum):
    HOLEPUNCHER = lib.RUPHIN_ROLE_HOLEPUNCHER
    SERVER = lib.RUPHIN_ROLE_SERVER
    CLIENT = lib.RUPHIN_ROLE_CLIENT


@dataclass(frozen=True)
class Event:
    """What poll() reports. data is the payload (DATA) or the session id
    (SESSION_*); error is the C error code of a FAILED event, else 0."""

    type: EventType
    peer: Optional[Address] = None
    data: bytes = b""
    error: int = 0

    def raise_for_failure(self) -> None:
        """Raises the matching ruphin.Error if this is a FAILED event."""
        if self.type == EventType.FAILED:
            raise error_for(self.error)


_EVENT_TYPES = {int(t): t for t in EventType}
_new_object = object.__new__


def _event(etype: EventType, peer: Optional[Address], data: bytes, error: int) -> Event:
    """Event(etype, peer, data, error) for the data path: filling a frozen
    dataclass's __dict__ directly costs half of what its __init__ does (one
    object.__setattr__ per field), which is much of a DATA event's cost."""
    ev = _new_object(Event)
    d = ev.__dict__
    d["type"] = etype
    d["peer"] = peer
    d["data"] = data
    d["error"] = error
    return ev


# Keyword tunables, named after the C options (RUPHIN_OPT_KEEPALIVE_MS -> keepalive_ms).
OPTIONS = {
    "keepalive_ms": lib.RUPHIN_OPT_KEEPALIVE_MS,
    "missed_keepalives": lib.RUPHIN_OPT_MISSED_KEEPALIVES,
    "handshake_timeout_ms": lib.RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS,
    "retransmit_ms": lib.RUPHIN_OPT_RETRANSMIT_MS,
    "retransmit_max_ms": lib.RUPHIN_OPT_RETRANSMIT_MAX_MS,
    "punch_interval_ms": lib.RUPHIN_OPT_PUNCH_INTERVAL_MS,
    "max_sessions": lib.RUPHIN_OPT_MAX_SESSIONS,
    "max_peers": lib.RUPHIN_OPT_MAX_PEERS,
    "max_payload": lib.RUPHIN_OPT_MAX_PAYLOAD,
    "accept_unverified": lib.RUPHIN_OPT_ACCEPT_UNVERIFIED,
    "allow_interrupt": lib.RUPHIN_OPT_ALLOW_INTERRUPT,
    "socket_buffer": lib.RUPHIN_OPT_SOCKET_BUFFER,
    "extensions": lib.RUPHIN_OPT_EXTENSIONS,
    "rate_limit": lib.RUPHIN_OPT_RATE_LIMIT,
    "no_amplification": lib.RUPHIN_OPT_NO_AMPLIFICATION,
    "relay_rate": lib.RUPHIN_OPT_RELAY_RATE,
    "workers": lib.RUPHIN_OPT_WORKERS,
    "worker": lib.RUPHIN_OPT_WORKER,
    "session_events": lib.RUPHIN_OPT_SESSION_EVENTS,
    "recovery_timeout_ms": lib.RUPHIN_OPT_RECOVERY_TIMEOUT_MS,
}

STATS = {
    "rx_datagrams": lib.RUPHIN_STAT_RX_DATAGRAMS,
    "tx_datagrams": lib.RUPHIN_STAT_TX_DATAGRAMS,
    "rx_malformed": lib.RUPHIN_STAT_RX_MALFORMED,
    "rx_unexpected": lib.RUPHIN_STAT_RX_UNEXPECTED,
    "tx_failed": lib.RUPHIN_STAT_TX_FAILED,
    "events_dropped": lib.RUPHIN_STAT_EVENTS_DROPPED,
    "sessions": lib.RUPHIN_STAT_SESSIONS,
    "sessions_refused": lib.RUPHIN_STAT_SESSIONS_REFUSED,
    "register_conflicts": lib.RUPHIN_STAT_REGISTER_CONFLICTS,
    "peers": lib.RUPHIN_STAT_PEERS,
    "rx_refused": lib.RUPHIN_STAT_RX_REFUSED,
    "rx_rejected": lib.RUPHIN_STAT_RX_REJECTED,
    "tx_dropped": lib.RUPHIN_STAT_TX_DROPPED,
    "requests_register": lib.RUPHIN_STAT_REQUESTS_REGISTER,
    "requests_join": lib.RUPHIN_STAT_REQUESTS_JOIN,
    "requests_hello": lib.RUPHIN_STAT_REQUESTS_HELLO,
    "requests_probe": lib.RUPHIN_STAT_REQUESTS_PROBE,
    "requests_unregister": lib.RUPHIN_STAT_REQUESTS_UNREGISTER,
    "requests_relay": lib.RUPHIN_STAT_REQUESTS_RELAY,
    "refused_rate_limit": lib.RUPHIN_STAT_REFUSED_RATE_LIMIT,
    "refused_amplification": lib.RUPHIN_STAT_REFUSED_AMPLIFICATION,
    "refused_unproven_owner": lib.RUPHIN_STAT_REFUSED_UNPROVEN_OWNER,
    "refused_relay_budget": lib.RUPHIN_STAT_REFUSED_RELAY_BUDGET,
    "relayed_bytes": lib.RUPHIN_STAT_RELAYED_BYTES,
    "relay_pairs": lib.RUPHIN_STAT_RELAY_PAIRS,
}


def _options(tunables: Dict[str, Any], key: Optional[bytes] = None):
    """A C options object (freed with its Python owner) from keyword tunables
    and, for sealed sessions, the shared key."""
    ptr = ffi.new("ruphin_options **")
    check(lib.ruphin_options_new(ptr))
    options = ffi.gc(ptr[0], lib.ruphin_options_free)
    for name, value in tunables.items():
        if name not in OPTIONS:
            raise TypeError(f"unknown option {name!r}")
        check(lib.ruphin_options_set(options, OPTIONS[name], int(value)), name)
    if key is not None:
        key = bytes(key)
        check(lib.ruphin_options_set_key(options, key, len(key)),
              f"key (must be {lib.RUPHIN_KEY_LEN} bytes)")
    return options


def generate_key() -> bytes:
    """A random key for sealed sessions (share it with the server and its clients)."""
    key = ffi.new("uint8_t[]", lib.RUPHIN_KEY_LEN)
    check(lib.ruphin_key_generate(key, lib.RUPHIN_KEY_LEN), "generate_key")
    return bytes(key)


def _session_id(session: SessionId) -> bytes:
    sid = session.encode() if isinstance(session, str) else bytes(session)
    if len(sid) > lib.RUPHIN_MAX_SESSION_ID:
        raise InvalidArgument(lib.RUPHIN_ERR_INVALID,
                              f"session id longer than {lib.RUPHIN_MAX_SESSION_ID} bytes")
    return sid


def _timeout_ms(timeout: Optional[float]) -> int:
    if timeout is None:
        return lib.RUPHIN_WAIT_FOREVER
    if timeout < 0:
        raise ValueError("timeout must be >= 0 or None")
    return min(math.ceil(timeout * 1000), 2**31 - 1)


_EVENT_SIZE = ffi.sizeof("ruphin_event")
_PEER_AT = ffi.offsetof("ruphin_event", "peer")
_PEER_END = _PEER_AT + ffi.sizeof("ruphin_addr")
POLL_BATCH_MAX: int = lib.RUPHIN_POLL_BATCH_MAX
_PEER_CACHE_MAX = 1024


class Node:
    """What the three roles share. Not thread-safe, except wake().

    The blocking helpers (connect, recv, wait_registered) keep every event
    they skip; poll() and poll_many() hand those out first, in the order they
    came, before they poll the core. At most `backlog` are kept (1024, as
    ruphin.aio; set it on a node to change it): a server that only ever
    calls recv() would otherwise pile up its clients' CONNECTED and
    DISCONNECTED for ever. When more come, the oldest go and count in
    stats()["events_dropped"]."""

    _node: Any = ffi.NULL
    backlog: int = 1024

    def __init__(self, node: Any) -> None:
        self._node = node
        self._events = ffi.new("ruphin_event[]", POLL_BATCH_MAX)
        self._events_raw = ffi.buffer(self._events)
        self._peers: Dict[bytes, Optional[Address]] = {}  # raw ruphin_addr -> (host, port)
        self._sent = ffi.new("size_t *")
        self._kept: Deque[Event] = collections.deque()  # skipped by a helper, for poll()
        self._kept_dropped = 0

    # -- lifetime --
    def close(self) -> None:
        """Closes the socket and frees the node; calling it again does nothing.
        Events the helpers kept go with it."""
        node, self._node = self._node, ffi.NULL
        self._kept = collections.deque()
        if node != ffi.NULL:
            lib.ruphin_close(node)

    @property
    def closed(self) -> bool:
        return self._node == ffi.NULL

    def __enter__(self: _N) -> _N:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the module may be gone
            pass

    def _ptr(self):
        if self._node == ffi.NULL:
            raise InvalidArgument(lib.RUPHIN_ERR_INVALID, "the node is closed")
        return self._node

    # -- driving --
    def poll(self, timeout: Optional[float] = 0) -> Optional[Event]:
        """Runs the protocol for up to timeout seconds (0: do not wait; None:
        until an event) and returns the next event, or None. An event a
        helper kept comes first, at once."""
        if self._kept:
            self._ptr()
            return self._kept.popleft()
        rc = check(lib.ruphin_poll(self._ptr(), _timeout_ms(timeout), self._events))
        return self._event_at(0) if rc else None

    def poll_many(self, timeout: Optional[float] = 0,
                  max_events: int = POLL_BATCH_MAX) -> List[Event]:
        """poll() for up to max_events (at most POLL_BATCH_MAX) events with
        one call into the core: waits up to timeout seconds for the first
        (0: do not wait; None: until one), then takes those ready without
        waiting. An empty list when the time passed with none. Events a
        helper kept come first, at once, and alone (the core's come with the
        next call)."""
        if max_events < 1:
            raise ValueError("max_events must be >= 1")
        if self._kept:
            self._ptr()
            kept = self._kept
            return [kept.popleft() for _ in range(min(max_events, len(kept)))]
        n = check(lib.ruphin_poll_batch(self._ptr(), _timeout_ms(timeout), self._events,
                                        min(max_events, POLL_BATCH_MAX)))
        return [self._event_at(i) for i in range(n)]

    def _event_at(self, i: int) -> Event:
        ev = self._events[i]
        n = ev.len
        data = ffi.buffer(ev.data, n)[:] if n else b""
        return _event(_EVENT_TYPES[ev.type], self._peer_at(i), data, ev.error)

    def _peer_at(self, i: int) -> Optional[Address]:
        """Event i's peer; converting an address costs more than looking up
        its raw bytes, and a data path sees the same few peers again and again."""
        at = i * _EVENT_SIZE
        raw = self._events_raw[at + _PEER_AT:at + _PEER_END]
        peer = self._peers.get(raw, False)
        if peer is False:
            if len(self._peers) >= _PEER_CACHE_MAX:
                self._peers.clear()
            peer = self._peers[raw] = from_c(self._events[i].peer)
        return peer

    def wake(self) -> None:
        """Makes a poll() waiting in another thread return a WAKE event soon.
        Safe from any thread."""
        check(lib.ruphin_wake(self._ptr()))

    # -- event loops --
    def fileno(self) -> int:
        """The socket descriptor, for selectors and asyncio."""
        return int(lib.ruphin_fd(self._ptr()))

    @property
    def deadline(self) -> Optional[float]:
        """When poll() must run next, in seconds on time.monotonic()'s clock, or None.
        Now, while a helper's kept events wait (the socket will not say so)."""
        d = lib.ruphin_deadline(self._ptr())
        at = None if d == lib.RUPHIN_NO_DEADLINE else d / 1000.0
        if self._kept:
            now = time.monotonic()
            return now if at is None else min(at, now)
        return at

    def timeout(self) -> Optional[float]:
        """Seconds until poll() must run next (0: now, as while a helper's
        kept events wait), or None."""
        ms = lib.ruphin_timeout_ms(self._ptr())
        if self._kept:
            return 0.0
        return None if ms < 0 else ms / 1000.0

    # -- introspection --
    @property
    def role(self) -> Role:
        return Role(lib.ruphin_role(self._ptr()))

    @property
    def state(self) -> State:
        return State(lib.ruphin_state(self._ptr()))

    @property
    def local_address(self) -> Address:
        out = ffi.new("ruphin_addr *")
        check(lib.ruphin_local_addr(self._ptr(), out))
        return from_c(out)

    def stats(self) -> Dict[str, int]:
        """The core's counters (STATS); events_dropped adds the events the
        helpers could not keep (see backlog)."""
        stats = {name: int(lib.ruphin_stat(self._ptr(), sid)) for name, sid in STATS.items()}
        stats["events_dropped"] += self._kept_dropped
        return stats

    def _send(self, data: bytes, to) -> None:
        data = bytes(data)
        check(lib.ruphin_send(self._ptr(), to, data, len(data)))

    def _send_many(self, datagrams: Iterable[bytes], to) -> None:
        items = datagrams if isinstance(datagrams, (list, tuple)) else list(datagrams)
        joined = b"".join(items)
        lens = [len(d) for d in items]
        if sum(lens) != len(joined):  # items whose len() does not count bytes
            lens = [memoryview(d).nbytes for d in items]
        rc = lib.ruphin_send_batch(self._ptr(), to, joined, lens, len(lens), self._sent)
        if rc < 0:
            error = error_for(rc, f"datagram {self._sent[0]} of {len(lens)}")
            error.sent = int(self._sent[0])
            raise error

    def _keep(self, ev: Event) -> None:
        """Keeps an event a helper skipped, for poll(); the latest backlog."""
        kept = self._kept
        while kept and len(kept) >= self.backlog:
            kept.popleft()
            self._kept_dropped += 1
        if self.backlog >= 1:
            kept.append(ev)
        else:
            self._kept_dropped += 1

    def _wait_for(self, wanted: Tuple[EventType, ...], timeout: Optional[float],
                  kept_too: bool = False) -> Event:
        """Polls the core until an event of a type in wanted; raises on
        FAILED or timeout. Every other event is kept for poll(). kept_too:
        the first kept event of a wanted type, if any, is taken first (recv:
        DATA a helper kept comes before newer DATA)."""
        if kept_too:
            for i, ev in enumerate(self._kept):
                if ev.type in wanted:
                    del self._kept[i]
                    return ev
        end = None if timeout is None else time.monotonic() + timeout
        ptr = self._ptr()
        while True:
            left = None if end is None else max(0.0, end - time.monotonic())
            if check(lib.ruphin_poll(ptr, _timeout_ms(left), self._events)):
                ev = self._event_at(0)
                ev.raise_for_failure()
                if ev.type in wanted:
                    return ev
                self._keep(ev)
            elif end is not None and time.monotonic() >= end:
                names = " or ".join(t.name for t in wanted)
                raise error_for(lib.RUPHIN_ERR_TIMEOUT, f"no {names} event")


class Holepuncher(Node):
    """The rendezvous service. bind: "host:port" or (host, port); None listens
    on every address (IPv6 and IPv4) at port 47470."""

    def __init__(self, bind: Optional[AddressLike] = None, **options: int) -> None:
        ptr = ffi.new("ruphin_node **")
        text = to_text(bind)
        check(lib.ruphin_holepuncher_new(ptr, text.encode() if text else ffi.NULL,
                                         _options(options)), f"holepuncher on {bind!r}")
        super().__init__(ptr[0])


class _Peer(Node):
    def __init__(self, create: Callable[..., int], holepuncher: AddressLike, session: SessionId,
                 bind: Optional[AddressLike], key: Optional[bytes],
                 options: Dict[str, int]) -> None:
        ptr = ffi.new("ruphin_node **")
        sid = _session_id(session)
        bind_text = to_text(bind)
        check(create(ptr, to_text(holepuncher).encode(), sid, len(sid),
                     bind_text.encode() if bind_text else ffi.NULL, _options(options, key)),
              f"holepuncher {holepuncher!r}")
        super().__init__(ptr[0])
        self.session = sid


class Server(_Peer):
    """The peer that registers a session; any number of clients join it.
    key: a shared key (generate_key()) seals the session: only clients with
    it connect, and their datagrams are encrypted and authenticated."""

    def __init__(self, holepuncher: AddressLike, session: SessionId, *,
                 bind: Optional[AddressLike] = None, key: Optional[bytes] = None,
                 **options: int) -> None:
        super().__init__(lib.ruphin_server_new, holepuncher, session, bind, key, options)

    def send(self, data: bytes, to: AddressLike) -> None:
        """Sends a datagram to a connected client."""
        self._send(data, to_c(to))

    def send_many(self, datagrams: Iterable[bytes], to: AddressLike) -> None:
        """Sends the datagrams, in order, to a connected client with as few
        system calls as the OS allows. The first that fails stops it: the
        ruphin.Error raised has .sent, how many went out before it."""
        self._send_many(datagrams, to_c(to))

    def wait_registered(self, timeout: Optional[float] = 10.0) -> None:
        """Polls until the holepuncher acknowledged the session; other
        events are kept for poll()."""
        if self.state != State.REGISTERED:
            self._wait_for((EventType.REGISTERED,), timeout)

    def recv(self, timeout: Optional[float] = None) -> Tuple[bytes, Address]:
        """Polls until a client's datagram arrives: (data, client address).
        DATA a helper kept comes first; other events are kept for poll()."""
        ev = self._wait_for((EventType.DATA,), timeout, kept_too=True)
        return ev.data, ev.peer


class Client(_Peer):
    """The peer that joins a session and talks to its server. key: the
    session's shared key, when the server seals it."""

    def __init__(self, holepuncher: AddressLike, session: SessionId, *,
                 bind: Optional[AddressLike] = None, key: Optional[bytes] = None,
                 **options: int) -> None:
        super().__init__(lib.ruphin_client_new, holepuncher, session, bind, key, options)

    def send(self, data: bytes) -> None:
        """Sends a datagram to the server."""
        self._send(data, ffi.NULL)

    def send_many(self, datagrams: Iterable[bytes]) -> None:
        """Sends the datagrams, in order, to the server with as few system
        calls as the OS allows. The first that fails stops it: the
        ruphin.Error raised has .sent, how many went out before it."""
        self._send_many(datagrams, ffi.NULL)

    @property
    def server_address(self) -> Optional[Address]:
        out = ffi.new("ruphin_addr *")
        if lib.ruphin_peer_addr(self._ptr(), out) != lib.RUPHIN_OK:
            return None
        return from_c(out)

    def connect(self, timeout: Optional[float] = 10.0) -> Address:
        """Polls until connected; returns the server's address. Raises
        SessionNotFound, Timeout, ... when that fails. Other events
        (PEER_ANNOUNCED, ...) are kept for poll()."""
        if self.state == State.FAILED:
            raise Failed(lib.RUPHIN_ERR_FAILED)
        if self.state not in (State.CONNECTED, State.RELAYED):
            self._wait_for((EventType.CONNECTED, EventType.RELAYED), timeout)
        return self.server_address

    def recv(self, timeout: Optional[float] = None) -> bytes:
        """Polls until the server's datagram arrives. DATA a helper kept
        comes first; other events are kept for poll()."""
        return self._wait_for((EventType.DATA,), timeout, kept_too=True).data
