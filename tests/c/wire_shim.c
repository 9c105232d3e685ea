/* Exposes the internal wire codec to Python's ctypes for the hypothesis
 * property tests. Test-only: never part of the installed library. */
#include "wire.h"

#define SHIM __attribute__((visibility("default")))

/* Decodes; on success payload_offset and payload_len locate the payload in buf. */
SHIM int shim_decode(const uint8_t *buf, size_t len, uint16_t *type, size_t *payload_offset,
                     size_t *payload_len, ruphin_addr *peer)
{
    rp_frame f;
    rp_wire_status st = rp_wire_decode(buf, len, &f);
    if (st != RP_WIRE_OK)
        return st;
    *type = f.type;
    *payload_offset = f.payload ? (size_t)(f.payload - buf) : 0;
    *payload_len = f.payload_len;
    *peer = f.peer;
    return RP_WIRE_OK;
}

SHIM size_t shim_encode_empty(uint8_t *buf, size_t cap, uint16_t type)
{
    return rp_wire_encode_empty(buf, cap, type);
}

SHIM size_t shim_encode_session(uint8_t *buf, size_t cap, uint16_t type, const uint8_t *id,
                                size_t id_len)
{
    return rp_wire_encode_session(buf, cap, type, id, id_len);
}

SHIM size_t shim_encode_peer_info(uint8_t *buf, size_t cap, const ruphin_addr *peer)
{
    return rp_wire_encode_peer_info(buf, cap, peer);
}

SHIM size_t shim_encode_data(uint8_t *buf, size_t cap, const uint8_t *payload, size_t len)
{
    return rp_wire_encode_data(buf, cap, payload, len);
}
