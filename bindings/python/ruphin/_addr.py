"""Conversions between Python (host, port) tuples and ruphin_addr."""
import socket
from typing import Any, Optional, Tuple, Union

from ._ruphin import ffi, lib
from .errors import check

Address = Tuple[str, int]
AddressLike = Union[str, Tuple[str, int]]


def to_text(address: Optional[AddressLike]) -> Optional[str]:
    """"host:port" for the C API from a tuple or a string (None stays None)."""
    if address is None or isinstance(address, str):
        return address
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def to_c(address: AddressLike):
    """A ruphin_addr* for a numeric address."""
    out = ffi.new("ruphin_addr *")
    check(lib.ruphin_addr_parse(to_text(address).encode(), 0, out), f"address {address!r}")
    return out


def from_c(addr) -> Optional[Address]:
    """(host, port) from a ruphin_addr, None when it holds no address."""
    if addr.family == 4:
        return socket.inet_ntop(socket.AF_INET, bytes(addr.ip[0:4])), addr.port
    if addr.family == 6:
        host = socket.inet_ntop(socket.AF_INET6, bytes(addr.ip[0:16]))
        return (f"{host}%{addr.scope_id}" if addr.scope_id else host), addr.port
    return None


def previous_address(event: Any) -> Optional[Address]:
    """Where the peer was before, for a PATH_RESTORED event that found it at
    another address (its data is the previous ruphin_addr); else None."""
    size = ffi.sizeof("ruphin_addr")
    if int(event.type) != lib.RUPHIN_EVENT_PATH_RESTORED or len(event.data) != size:
        return None
    addr = ffi.new("ruphin_addr *")
    ffi.memmove(addr, event.data, size)
    return from_c(addr)
