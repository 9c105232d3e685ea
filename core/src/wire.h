/*
 * Wire codec: pure functions that turn frames into bytes and back.
 * No sockets, no clock, no allocation. See docs/PROTOCOL.md.
 */
#ifndef RUPHIN_WIRE_H
#define RUPHIN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "../include/ruphin.h" /* relative: the core compiles without -I */

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
    RP_FRAME_HELLO_RESP = 9,
    /* Generation 1 (ruphin-C extensions; docs/PROTOCOL.md). Sent only to a
     * peer that has shown it speaks them. */
    RP_FRAME_CAPABILITIES = 10,
    RP_FRAME_REGISTER_EXT = 11,
    RP_FRAME_JOIN_EXT = 12,
    RP_FRAME_PEER_INFO_EXT = 13,
    RP_FRAME_HELLO_EXT = 14,
    RP_FRAME_RELAY = 15,
    RP_FRAME_SEALED = 16, /* between peers that share a key (seal.h) */
    RP_FRAME_REGISTER_ACK_EXT = 17,
    RP_FRAME_UNREGISTER = 18
};

/* The probe that asks "do you speak generation 1?": a v0 RegisterAck with
 * this session id, sent to a holepuncher, which never legitimately receives
 * a RegisterAck. An original holepuncher ignores it; ours answers with
 * Capabilities. */
#define RP_PROBE_ID "\xffruphin/1"
/* Capabilities' version: 2 also takes resumed joins (JoinExt's resume
 * nonces, docs/PROTOCOL.md); 1 did not. */
enum { RP_PROBE_ID_LEN = 9, RP_PROTOCOL_VERSION = 2, RP_RESUME_VERSION = 2 };

enum {
    RP_MAX_LOCALS = 4,              /* local addresses carried in JoinExt */
    RP_PEER_SPEAKS_EXT = 1,         /* PeerInfoExt flags */
    RP_RELAY_OFFERED = 2,
    /* To the joiner: none of its local addresses has the port the
     * holepuncher saw it from (its NAT changed the port; the server then
     * probes the joiner's ports, server.c, if the relay is offered). */
    RP_PORT_CHANGED = 4,
    /* About the owner: its address is one of the local addresses it
     * registered with (no NAT: a joiner's full hellos reach it at once). */
    RP_PEER_WITHOUT_NAT = 8,
    /* To the joiner: the relay is not offered because this join did not
     * prove the joiner's address, but would be to one that does (with a
     * cookie). The answer to a join probe, sent before Capabilities came. */
    RP_RELAY_ON_PROOF = 16,
    /* About the owner: one of the local addresses it registered with has
     * the port the holepuncher saw (its NAT kept the port, so it is the
     * port a joiner's hellos need: scanning the owner's ports is no use). */
    RP_PEER_PORT_KEPT = 32,
    /* To the owner: the joiner resumes a connection that lost its path
     * (path recovery); the two nonces it knew that connection by follow
     * the local addresses. */
    RP_RESUMES = 64,
    RP_HELLO_EXT_REQ = 0,           /* HelloExt kinds */
    RP_HELLO_EXT_RESP = 1,
    RP_HELLO_EXT_BYE = 2,           /* the sender closes: forget me (its nonce proves it) */
    /* The PeerInfoExt a holepuncher sends to a joining client (no local
     * addresses) about an IPv4 owner, and the largest (an IPv6 owner):
     * clients pad JoinExt to the largest. */
    RP_PEER_INFO_EXT_V4_REPLY = 4 /* header */ + 8 + 1 + 7 + 1,
    RP_PEER_INFO_EXT_MAX_REPLY = 4 /* header */ + 8 + 1 + 19 + 1
};

/* Sealed frames (seal.h): kind, sender epoch, receiver epoch, counter, then
 * the ciphertext and its tag. */
enum {
    RP_SEAL_HELLO = 0, /* kinds */
    RP_SEAL_DATA = 1,
    RP_SEAL_HEADER_LEN = 1 + 8 + 8 + 8,
    RP_SEAL_TAG_LEN = 16,
    RP_SEAL_OVERHEAD = RP_SEAL_HEADER_LEN + RP_SEAL_TAG_LEN
};

enum {
    RP_HEADER_LEN = 4,
    RP_PEER_INFO_V4_LEN = 11,
    RP_PEER_INFO_V6_LEN = 23,
    RP_MAX_FRAME_LEN = 65535,
    RP_MAX_DATA_LEN = RP_MAX_FRAME_LEN - RP_HEADER_LEN - 28 /* IPv4+UDP headers */
};

/* The join probe: a generation-0 RegisterAck (which an original holepuncher
 * ignores, like the probe) whose session id has the longest length,
 * RUPHIN_MAX_SESSION_ID bytes: RP_JOIN_PROBE_MARK, then a JoinExt payload
 * without cookie (u8 id length, id, address list), then zero padding. Its
 * 24 bytes are more than the answer about an IPv4 owner, so it is answered
 * at once without a cookie, whatever the length of the session id; a
 * client sends it with its first Join (docs/PROTOCOL.md). */
#define RP_JOIN_PROBE_MARK "\xffj"
enum {
    RP_JOIN_PROBE_MARK_LEN = 2,
    RP_JOIN_PROBE_LEN = RP_HEADER_LEN + RUPHIN_MAX_SESSION_ID
};

/* Why a datagram is not a well-formed frame. */
typedef enum rp_wire_status {
    RP_WIRE_OK = 0,
    RP_WIRE_TRUNCATED = -1,    /* shorter than a header */
    RP_WIRE_BAD_LENGTH = -2,   /* length field differs from the datagram's length */
    RP_WIRE_UNKNOWN_TYPE = -3,
    RP_WIRE_BAD_PAYLOAD = -4   /* payload size or content wrong for the type */
} rp_wire_status;

/* A decoded frame. Pointers point into the decoded buffer. */
typedef struct rp_frame {
    uint16_t type;
    const uint8_t *payload;    /* the whole payload; never NULL once decoded */
    size_t payload_len;
    const uint8_t *session_id; /* Register, Join, RegisterAck, SessionNotFound and their Ext */
    size_t session_id_len;
    ruphin_addr peer;          /* PeerInfo, PeerInfoExt: the peer's public address */
    uint64_t nonce;            /* PeerInfoExt, HelloExt, Relay; Sealed: the sender's epoch */
    uint64_t epoch_to;         /* Sealed: the receiver's epoch */
    uint64_t counter;          /* Sealed */
    uint8_t flags;             /* PeerInfoExt: RP_PEER_SPEAKS_EXT; HelloExt, Sealed: its kind */
    uint8_t version;           /* Capabilities */
    uint8_t local_count;       /* JoinExt, PeerInfoExt */
    ruphin_addr locals[RP_MAX_LOCALS];
    /* Ownership and return routability (docs/SECURITY.md); 0 = none. */
    uint64_t token;            /* RegisterExt with proof, RegisterAckExt: the owner token */
    uint64_t cookie;           /* Capabilities, RegisterExt, JoinExt, RegisterAckExt */
    uint8_t has_proof;         /* RegisterExt: it carried a token and a cookie */
    /* JoinExt, PeerInfoExt with RP_RESUMES: the nonces of the connection the
     * joiner resumes (its latest and the one before; 0 = none). */
    uint64_t resume[2];
    /* Not on the wire: a holepuncher's session-table hash of session_id,
     * kept by its prefetch for the lookup that follows (id_hashed). */
    uint8_t id_hashed;
    uint32_t id_hash;
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

/* Generation 1 encoders. */
/* cookie 0: none (the version byte alone, as before cookies). */
size_t rp_wire_encode_capabilities(uint8_t *buf, size_t cap, uint64_t cookie);
/* RegisterExt, JoinExt: zero padding makes the frame at least pad_to bytes. */
size_t rp_wire_encode_session_ext(uint8_t *buf, size_t cap, uint16_t type, const uint8_t *id,
                                  size_t id_len, const ruphin_addr *locals, size_t local_count,
                                  size_t pad_to);
/* RegisterExt with the owner token and a cookie (no local addresses). */
size_t rp_wire_encode_register_proof(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                     const ruphin_addr *locals, size_t local_count,
                                     uint64_t token, uint64_t cookie);
/* JoinExt with a cookie and no padding: a holepuncher that checks the cookie
 * may answer it with more bytes than it has. */
size_t rp_wire_encode_join_cookie(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                  const ruphin_addr *locals, size_t local_count, uint64_t cookie);
/* JoinExt of a client resuming a lost path: the cookie (0: none), the two
 * nonces of the connection it resumes, then zero padding to pad_to. */
size_t rp_wire_encode_join_resume(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                  const ruphin_addr *locals, size_t local_count, uint64_t cookie,
                                  const uint64_t resume[2], size_t pad_to);
/* RegisterAckExt: u8 id length, id, u64 token, u64 cookie. */
size_t rp_wire_encode_register_ack_ext(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                       uint64_t token, uint64_t cookie);
/* Unregister: u8 id length, id, u64 owner token. */
size_t rp_wire_encode_unregister(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                 uint64_t token);
size_t rp_wire_encode_peer_info_ext(uint8_t *buf, size_t cap, uint64_t nonce, uint8_t flags,
                                    const ruphin_addr *peer, const ruphin_addr *locals,
                                    size_t local_count);
/* PeerInfoExt to an owner about a resuming joiner: RP_RESUMES is set and
 * the two nonces follow the local addresses. */
size_t rp_wire_encode_peer_info_resume(uint8_t *buf, size_t cap, uint64_t nonce, uint8_t flags,
                                       const ruphin_addr *peer, const ruphin_addr *locals,
                                       size_t local_count, const uint64_t resume[2]);
size_t rp_wire_encode_hello_ext(uint8_t *buf, size_t cap, uint8_t kind, uint64_t nonce);
/* Relay: u64 nonce, then a Data payload (empty: a hello through the relay). */
size_t rp_wire_encode_relay(uint8_t *buf, size_t cap, uint64_t nonce, const uint8_t *payload,
                            size_t len);

/* Sealed: writes the header and the seal header (kind, epochs, counter)
 * and returns the frame's length with body_len more bytes (ciphertext and
 * tag, which the caller writes after the first RP_HEADER_LEN + 25 bytes);
 * 0 when it does not fit. */
size_t rp_wire_encode_sealed(uint8_t *buf, size_t cap, uint8_t kind, uint64_t sender,
                             uint64_t receiver, uint64_t counter, size_t body_len);

/* 1 when frames of this type (generation 0) carry a session id. */
int rp_wire_has_session_id(uint16_t type);
/* 1 when f is the generation-1 probe. */
int rp_wire_is_probe(const rp_frame *f);
/* A join probe for id with these local addresses; 0 when they do not fit. */
size_t rp_wire_encode_join_probe(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                 const ruphin_addr *locals, size_t local_count);
/* 1 when f is a well-formed join probe: then *join is the JoinExt it
 * stands for (no cookie; payload_len that of the probe). */
int rp_wire_decode_join_probe(const rp_frame *f, rp_frame *join);

#endif
