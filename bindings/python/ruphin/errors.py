"""The exception hierarchy: every failure is a ruphin.Error carrying the C
error code and its message."""
from ._ruphin import ffi, lib


class Error(Exception):
    """Any ruphin failure. code is the negative C error code. sent: raised
    by send_many, how many datagrams went out before the one that failed
    (else 0)."""

    sent: int = 0

    def __init__(self, code: int, context: str = "") -> None:
        self.code = code
        self.message = ffi.string(lib.ruphin_strerror(code)).decode()
        super().__init__(f"{context}: {self.message}" if context else self.message)


class InvalidArgument(Error, ValueError):
    pass


class NoMemory(Error, MemoryError):
    pass


class AddressError(Error, ValueError):
    """An address could not be parsed or resolved, or mixes IPv4 and IPv6."""


class SocketError(Error, OSError):
    pass


class AddressInUse(SocketError):
    pass


class AddressNotAvailable(SocketError):
    pass


class PermissionDenied(SocketError):
    pass


class TooLarge(Error, ValueError):
    """The payload is larger than the node's max_payload."""


class NotConnected(Error):
    """The client does not know its server yet (or any more)."""


class UnknownPeer(Error):
    """No connected client has that address."""


class WouldBlock(Error, BlockingIOError):
    pass


class Timeout(Error, TimeoutError):
    """The holepuncher or the peer did not answer in time."""


class SessionNotFound(Error):
    """The holepuncher has no such session."""


class PeerLost(Error):
    """The peer went silent for too long."""


class NotSupported(Error):
    pass


class Failed(Error):
    """The node failed earlier (see the FAILED event)."""


class Stopped(Error):
    pass


class AuthenticationFailed(Error):
    """A sealed session's peer does not hold the same key (or one side has none)."""


_BY_CODE = {
    lib.RUPHIN_ERR_INVALID: InvalidArgument,
    lib.RUPHIN_ERR_NOMEM: NoMemory,
    lib.RUPHIN_ERR_ADDRESS: AddressError,
    lib.RUPHIN_ERR_SOCKET: SocketError,
    lib.RUPHIN_ERR_ADDR_IN_USE: AddressInUse,
    lib.RUPHIN_ERR_ADDR_NOT_AVAILABLE: AddressNotAvailable,
    lib.RUPHIN_ERR_PERMISSION: PermissionDenied,
    lib.RUPHIN_ERR_TOO_LARGE: TooLarge,
    lib.RUPHIN_ERR_NOT_CONNECTED: NotConnected,
    lib.RUPHIN_ERR_UNKNOWN_PEER: UnknownPeer,
    lib.RUPHIN_ERR_WOULD_BLOCK: WouldBlock,
    lib.RUPHIN_ERR_IO: SocketError,
    lib.RUPHIN_ERR_TIMEOUT: Timeout,
    lib.RUPHIN_ERR_SESSION_NOT_FOUND: SessionNotFound,
    lib.RUPHIN_ERR_PEER_LOST: PeerLost,
    lib.RUPHIN_ERR_NOT_SUPPORTED: NotSupported,
    lib.RUPHIN_ERR_FAILED: Failed,
    lib.RUPHIN_ERR_BUFFER: InvalidArgument,
    lib.RUPHIN_ERR_ADDRESS_FAMILY: AddressError,
    lib.RUPHIN_ERR_STOPPED: Stopped,
    lib.RUPHIN_ERR_AUTH: AuthenticationFailed,
}


def error_for(code: int, context: str = "") -> Error:
    """The exception for a C error code."""
    return _BY_CODE.get(code, Error)(code, context)


def check(rc: int, context: str = "") -> int:
    """Returns rc, or raises the matching exception when it is an error."""
    if rc < 0:
        raise error_for(rc, context)
    return rc
