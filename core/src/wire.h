/*
 * Wire codec: pure functions that turn frames into bytes and back.
 * No sockets, no clock, no allocation. See docs/PROTOCOL.md.
 */
#ifndef RUPHIN_WIRE_H
#define RUPHIN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "ruphin.h"

/* Frame types of protocol generation 0 (the original ruphin). */
enum rp_frame_type {
    RP_FRAME_LOCAL_INTERRUPT = 1,
    RP_FRAME_REGISTER = 2,
    RP_FRAME_JOIN = 3,
    RP_FRAME_PEER_INFO = 4,
    RP_FRAME_DATA = 5,
    RP_FRAME_REGISTER_ACK = 6,
    RP_FRAME_SESSION_NOT_FOUND = 7,
    RP_FRAME_HELLO_REQ = 8,
    RP_FRAME_HELLO_RESP = 9
};

enum {
    RP_HEADER_LEN = 4,
    RP_PEER_INFO_V4_LEN = 11,
    RP_PEER_INFO_V6_LEN = 23,
    RP_MAX_FRAME_LEN = 65535,
    RP_MAX_DATA_LEN = RP_MAX_FRAME_LEN - RP_HEADER_LEN - 28 /* IPv4+UDP headers */
};

/* Why a datagram is not a well-formed frame. */
typedef enum rp_wire_status {
    RP_WIRE_OK = 0,
    RP_WIRE_TRUNCATED = -1,    /* shorter than a header */
    RP_WIRE_BAD_LENGTH = -2,   /* length field differs from the datagram's length */
    RP_WIRE_UNKNOWN_TYPE = -3,
    RP_WIRE_BAD_PAYLOAD = -4   /* payload size or content wrong for the type */
} rp_wire_status;

/* A decoded frame. payload points into the decoded buffer. */
typedef struct rp_frame {
    uint16_t type;
    const uint8_t *payload; /* session id, Data payload; never NULL once decoded */
    size_t payload_len;
    ruphin_addr peer;       /* PeerInfo only */
} rp_frame;

/* Decodes one datagram; returns RP_WIRE_OK or why it is malformed. */
rp_wire_status rp_wire_decode(const uint8_t *buf, size_t len, rp_frame *out);

/* Encoders write one frame into buf and return its length, or 0 when it does
 * not fit in cap or the input is invalid for the type. */
size_t rp_wire_encode_empty(uint8_t *buf, size_t cap, uint16_t type);
size_t rp_wire_encode_session(uint8_t *buf, size_t cap, uint16_t type,
                              const uint8_t *id, size_t id_len);
size_t rp_wire_encode_peer_info(uint8_t *buf, size_t cap, const ruphin_addr *peer);
size_t rp_wire_encode_data(uint8_t *buf, size_t cap, const uint8_t *payload, size_t len);

/* 1 when frames of this type carry a session id. */
int rp_wire_has_session_id(uint16_t type);

#endif
