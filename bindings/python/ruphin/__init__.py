"""ruphin: UDP hole punching through a rendezvous holepuncher.

    import ruphin
    with ruphin.Client(("203.0.113.1", 47470), b"game") as client:
        client.connect()
        client.send(b"hello")
        print(client.recv(timeout=5))

The protocol runs in the C core (libruphin); these classes are a thin layer
over its API. Each node is driven by poll() (or by the helpers built on it:
connect, recv, wait_registered) and exposes fileno() and deadline for
selectors and asyncio.
"""
from ._ruphin import ffi, lib
from ._addr import Address, AddressLike, previous_address
from ._node import (Client, Event, EventType, Holepuncher, Node, OPTIONS, POLL_BATCH_MAX, Role,
                    Server, State, generate_key)
from .errors import (AddressError, AddressInUse, AddressNotAvailable, AuthenticationFailed,
                     Error, Failed,
                     InvalidArgument, NoMemory, NotConnected, NotSupported, PeerLost,
                     PermissionDenied, SessionNotFound, SocketError, Stopped, Timeout, TooLarge,
                     UnknownPeer, WouldBlock)

__version__: str = ffi.string(lib.ruphin_version()).decode()
DEFAULT_PORT: int = lib.RUPHIN_DEFAULT_PORT
MAX_SESSION_ID: int = lib.RUPHIN_MAX_SESSION_ID
MAX_PAYLOAD_LIMIT: int = lib.RUPHIN_MAX_PAYLOAD_LIMIT
KEY_LEN: int = lib.RUPHIN_KEY_LEN
#: True when this build seals sessions (it was compiled with libsodium).
SEAL_SUPPORTED: bool = bool(lib.ruphin_seal_supported())

__all__ = [
    "Address", "AddressLike", "Client", "Event", "EventType", "Holepuncher", "Node", "OPTIONS",
    "POLL_BATCH_MAX", "Role", "Server", "State", "generate_key", "AddressError", "AddressInUse",
    "AddressNotAvailable", "AuthenticationFailed", "Error",
    "Failed", "InvalidArgument", "NoMemory", "NotConnected", "NotSupported", "PeerLost",
    "PermissionDenied", "SessionNotFound", "SocketError", "Stopped", "Timeout", "TooLarge",
    "UnknownPeer", "WouldBlock", "DEFAULT_PORT", "MAX_SESSION_ID", "MAX_PAYLOAD_LIMIT", "KEY_LEN",
    "SEAL_SUPPORTED", "previous_address",
]
