/* Version, error messages and event names. */
#include "../include/ruphin.h" /* relative: the core compiles without -I */

const char *ruphin_version(void)
{
    return RUPHIN_VERSION_STRING;
}

int32_t ruphin_version_number(void)
{
    return RUPHIN_VERSION_MAJOR * 10000 + RUPHIN_VERSION_MINOR * 100 + RUPHIN_VERSION_PATCH;
}

const char *ruphin_strerror(int32_t error)
{
    switch (error) {
    case RUPHIN_OK: return "success";
    case RUPHIN_ERR_INVALID: return "invalid argument";
    case RUPHIN_ERR_NOMEM: return "out of memory";
    case RUPHIN_ERR_ADDRESS: return "address could not be parsed or resolved";
    case RUPHIN_ERR_SOCKET: return "the system refused to create or set up the socket";
    case RUPHIN_ERR_ADDR_IN_USE: return "local address already in use";
    case RUPHIN_ERR_ADDR_NOT_AVAILABLE: return "local address not available on this host";
    case RUPHIN_ERR_PERMISSION: return "permission denied";
    case RUPHIN_ERR_TOO_LARGE: return "payload larger than the maximum payload";
    case RUPHIN_ERR_NOT_CONNECTED: return "not connected to the server";
    case RUPHIN_ERR_UNKNOWN_PEER: return "no connected peer has that address";
    case RUPHIN_ERR_WOULD_BLOCK: return "socket send buffer full, try again";
    case RUPHIN_ERR_IO: return "the system failed to send or receive";
    case RUPHIN_ERR_TIMEOUT: return "timed out: no answer in time";
    case RUPHIN_ERR_SESSION_NOT_FOUND: return "the holepuncher has no such session";
    case RUPHIN_ERR_PEER_LOST: return "the peer went silent";
    case RUPHIN_ERR_NOT_SUPPORTED: return "operation not supported by this role";
    case RUPHIN_ERR_FAILED: return "the node has failed earlier";
    case RUPHIN_ERR_BUFFER: return "buffer too small";
    case RUPHIN_ERR_ADDRESS_FAMILY: return "address family mismatch";
    case RUPHIN_ERR_STOPPED: return "the runner has stopped";
    case RUPHIN_ERR_AUTH:
        return "sealed session: the peer does not hold the same key (or one side has none)";
    default: return "unknown error";
    }
}

const char *ruphin_event_name(int32_t type)
{
    switch (type) {
    case RUPHIN_EVENT_NONE: return "NONE";
    case RUPHIN_EVENT_DATA: return "DATA";
    case RUPHIN_EVENT_CONNECTED: return "CONNECTED";
    case RUPHIN_EVENT_DISCONNECTED: return "DISCONNECTED";
    case RUPHIN_EVENT_REGISTERED: return "REGISTERED";
    case RUPHIN_EVENT_REGISTRATION_LOST: return "REGISTRATION_LOST";
    case RUPHIN_EVENT_PUNCH_FAILED: return "PUNCH_FAILED";
    case RUPHIN_EVENT_FAILED: return "FAILED";
    case RUPHIN_EVENT_WAKE: return "WAKE";
    case RUPHIN_EVENT_SESSION_REGISTERED: return "SESSION_REGISTERED";
    case RUPHIN_EVENT_SESSION_EXPIRED: return "SESSION_EXPIRED";
    case RUPHIN_EVENT_SESSION_JOINED: return "SESSION_JOINED";
    case RUPHIN_EVENT_PEER_ANNOUNCED: return "PEER_ANNOUNCED";
    case RUPHIN_EVENT_RELAYED: return "RELAYED";
    case RUPHIN_EVENT_PATH_LOST: return "PATH_LOST";
    case RUPHIN_EVENT_PATH_RESTORED: return "PATH_RESTORED";
    default: return "UNKNOWN";
    }
}
