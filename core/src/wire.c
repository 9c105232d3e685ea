/* Wire codec of protocol generation 0; see wire.h and docs/PROTOCOL.md. */
#include "wire.h"

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static size_t put_header(uint8_t *buf, size_t cap, uint16_t type, size_t payload_len)
{
    size_t total = RP_HEADER_LEN + payload_len;
    if (buf == NULL || total > cap || total > RP_MAX_FRAME_LEN)
        return 0;
    put_u16(buf, (uint16_t)total);
    put_u16(buf + 2, type);
    return total;
}

int rp_wire_has_session_id(uint16_t type)
{
    return type == RP_FRAME_REGISTER || type == RP_FRAME_JOIN ||
           type == RP_FRAME_REGISTER_ACK || type == RP_FRAME_SESSION_NOT_FOUND;
}

static int is_empty_type(uint16_t type)
{
    return type == RP_FRAME_LOCAL_INTERRUPT || type == RP_FRAME_HELLO_REQ ||
           type == RP_FRAME_HELLO_RESP;
}

static rp_wire_status decode_peer_info(const uint8_t *p, size_t len, ruphin_addr *out)
{
    memset(out, 0, sizeof *out);
    if (len == RP_PEER_INFO_V4_LEN - RP_HEADER_LEN && p[0] == 4) {
        out->family = 4;
        memcpy(out->ip, p + 1, 4);
        out->port = get_u16(p + 5);
        return RP_WIRE_OK;
    }
    if (len == RP_PEER_INFO_V6_LEN - RP_HEADER_LEN && p[0] == 6) {
        out->family = 6;
        memcpy(out->ip, p + 1, 16);
        out->port = get_u16(p + 17);
        return RP_WIRE_OK;
    }
    return RP_WIRE_BAD_PAYLOAD;
}

rp_wire_status rp_wire_decode(const uint8_t *buf, size_t len, rp_frame *out)
{
    memset(out, 0, sizeof *out);
    if (buf == NULL || len < RP_HEADER_LEN)
        return RP_WIRE_TRUNCATED;
    if (get_u16(buf) != len)
        return RP_WIRE_BAD_LENGTH;
    out->type = get_u16(buf + 2);
    out->payload_len = len - RP_HEADER_LEN;
    out->payload = buf + RP_HEADER_LEN; /* never NULL, even when empty */

    if (is_empty_type(out->type))
        return out->payload_len == 0 ? RP_WIRE_OK : RP_WIRE_BAD_PAYLOAD;
    if (rp_wire_has_session_id(out->type))
        return out->payload_len <= RUPHIN_MAX_SESSION_ID ? RP_WIRE_OK : RP_WIRE_BAD_PAYLOAD;
    if (out->type == RP_FRAME_PEER_INFO)
        return decode_peer_info(out->payload, out->payload_len, &out->peer);
    if (out->type == RP_FRAME_DATA)
        return RP_WIRE_OK;
    return RP_WIRE_UNKNOWN_TYPE;
}

size_t rp_wire_encode_empty(uint8_t *buf, size_t cap, uint16_t type)
{
    if (!is_empty_type(type))
        return 0;
    return put_header(buf, cap, type, 0);
}

size_t rp_wire_encode_session(uint8_t *buf, size_t cap, uint16_t type,
                              const uint8_t *id, size_t id_len)
{
    size_t total;
    if (!rp_wire_has_session_id(type) || id_len > RUPHIN_MAX_SESSION_ID ||
        (id == NULL && id_len > 0))
        return 0;
    total = put_header(buf, cap, type, id_len);
    if (total && id_len)
        memcpy(buf + RP_HEADER_LEN, id, id_len);
    return total;
}

size_t rp_wire_encode_peer_info(uint8_t *buf, size_t cap, const ruphin_addr *peer)
{
    size_t ip_len, total;
    uint8_t *p;
    if (peer == NULL || (peer->family != 4 && peer->family != 6))
        return 0;
    ip_len = peer->family == 4 ? 4 : 16;
    total = put_header(buf, cap, RP_FRAME_PEER_INFO, 1 + ip_len + 2);
    if (!total)
        return 0;
    p = buf + RP_HEADER_LEN;
    p[0] = peer->family;
    memcpy(p + 1, peer->ip, ip_len);
    put_u16(p + 1 + ip_len, peer->port);
    return total;
}

size_t rp_wire_encode_data(uint8_t *buf, size_t cap, const uint8_t *payload, size_t len)
{
    size_t total;
    if ((payload == NULL && len > 0) || len > RP_MAX_DATA_LEN)
        return 0;
    total = put_header(buf, cap, RP_FRAME_DATA, len);
    if (total && len)
        memmove(buf + RP_HEADER_LEN, payload, len);
    return total;
}
