/* Wire codec of protocol generation 0; see wire.h and docs/PROTOCOL.md. */
#include "wire.h"

#include <stdbool.h>
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

/* ---- generation 1 ---- */

/* A bounds-checked cursor over a payload: reading past the end clears ok. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
    bool ok;
} reader;

static const uint8_t *read_bytes(reader *r, size_t n)
{
    const uint8_t *p = r->p;
    if (!r->ok || n > r->left) {
        r->ok = false;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

static uint8_t read_u8(reader *r)
{
    const uint8_t *p = read_bytes(r, 1);
    return p ? p[0] : 0;
}

static uint64_t read_u64(reader *r)
{
    const uint8_t *p = read_bytes(r, 8);
    uint64_t v = 0;
    int i;
    for (i = 0; p && i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* u8 family (4 or 6), the address, u16 port. */
static void read_addr(reader *r, ruphin_addr *a)
{
    uint8_t family = read_u8(r);
    const uint8_t *ip = read_bytes(r, family == 4 ? 4 : 16);
    const uint8_t *port = read_bytes(r, 2);
    memset(a, 0, sizeof *a);
    if (family != 4 && family != 6)
        r->ok = false;
    if (!r->ok)
        return;
    a->family = family;
    memcpy(a->ip, ip, family == 4 ? 4 : 16);
    a->port = get_u16(port);
}

/* u8 count (at most RP_MAX_LOCALS), then that many addresses. */
static void read_locals(reader *r, rp_frame *f)
{
    uint8_t i;
    f->local_count = read_u8(r);
    if (f->local_count > RP_MAX_LOCALS)
        r->ok = false;
    for (i = 0; r->ok && i < f->local_count; i++)
        read_addr(r, &f->locals[i]);
}

/* Requests may end in zero bytes: a client pads its request to the size of
 * the answer, so that a holepuncher never answers with more bytes than it got. */
static void skip_padding(reader *r)
{
    while (r->ok && r->left > 0)
        if (read_u8(r) != 0)
            r->ok = false;
}

static void read_session_id(reader *r, rp_frame *f)
{
    f->session_id_len = read_u8(r);
    if (f->session_id_len > RUPHIN_MAX_SESSION_ID)
        r->ok = false;
    f->session_id = read_bytes(r, f->session_id_len);
}

/* After a request's local addresses, before its zero padding: RegisterExt
 * may carry u64 token and u64 cookie, JoinExt a u64 cookie. Zero padding
 * reads as "none", so padded requests of older peers keep their meaning. */
static void read_proof(reader *r, rp_frame *f)
{
    if (f->type == RP_FRAME_REGISTER_EXT && r->left >= 16) {
        f->has_proof = 1;
        f->token = read_u64(r);
        f->cookie = read_u64(r);
    } else if (f->type == RP_FRAME_JOIN_EXT && r->left >= 8) {
        f->cookie = read_u64(r);
        if (r->left >= 16) { /* a resumed join's nonces (zero padding: none) */
            f->resume[0] = read_u64(r);
            f->resume[1] = read_u64(r);
        }
    }
}

static rp_wire_status decode_ext(rp_frame *f)
{
    reader r = {f->payload, f->payload_len, true};
    switch (f->type) {
    case RP_FRAME_CAPABILITIES:
        f->version = read_u8(&r);
        if (r.left >= 8)
            f->cookie = read_u64(&r);
        r.left = 0; /* later versions may add fields: ignore them */
        break;
    case RP_FRAME_REGISTER_EXT:
    case RP_FRAME_JOIN_EXT:
        read_session_id(&r, f);
        read_locals(&r, f);
        read_proof(&r, f);
        skip_padding(&r);
        break;
    case RP_FRAME_REGISTER_ACK_EXT:
        read_session_id(&r, f);
        f->token = read_u64(&r);
        f->cookie = read_u64(&r);
        break;
    case RP_FRAME_UNREGISTER:
        read_session_id(&r, f);
        f->token = read_u64(&r);
        break;
    case RP_FRAME_PEER_INFO_EXT:
        f->nonce = read_u64(&r);
        f->flags = read_u8(&r);
        read_addr(&r, &f->peer);
        read_locals(&r, f);
        if (f->flags & RP_RESUMES) {
            f->resume[0] = read_u64(&r);
            f->resume[1] = read_u64(&r);
        }
        break;
    case RP_FRAME_HELLO_EXT:
        f->flags = read_u8(&r);
        f->nonce = read_u64(&r);
        if (f->flags != RP_HELLO_EXT_REQ && f->flags != RP_HELLO_EXT_RESP &&
            f->flags != RP_HELLO_EXT_BYE)
            r.ok = false;
        break;
    case RP_FRAME_RELAY:
        f->nonce = read_u64(&r);
        f->payload = r.p; /* what follows the nonce is the relayed payload */
        f->payload_len = r.left;
        r.left = 0;
        break;
    case RP_FRAME_SEALED:
        f->flags = read_u8(&r);
        f->nonce = read_u64(&r);
        f->epoch_to = read_u64(&r);
        f->counter = read_u64(&r);
        /* a hello seals nothing: its tag only; Data at least its tag */
        if ((f->flags != RP_SEAL_HELLO && f->flags != RP_SEAL_DATA) || r.left < RP_SEAL_TAG_LEN ||
            (f->flags == RP_SEAL_HELLO && r.left != RP_SEAL_TAG_LEN))
            r.ok = false;
        r.left = 0; /* the rest is ciphertext and tag (seal.c) */
        break;
    default:
        return RP_WIRE_UNKNOWN_TYPE;
    }
    return r.ok && r.left == 0 ? RP_WIRE_OK : RP_WIRE_BAD_PAYLOAD;
}

rp_wire_status rp_wire_decode(const uint8_t *buf, size_t len, rp_frame *out)
{
    /* Copied rather than memset: for a frame this size GCC's memset is a
     * `rep stos`, whose start-up cost took about 10 ns a request
     * (bench/hp_input join-miss: 102 -> 86-95 ns); a copy is a few moves. */
    static const rp_frame empty;
    *out = empty;
    if (buf == NULL || len < RP_HEADER_LEN)
        return RP_WIRE_TRUNCATED;
    if (get_u16(buf) != len)
        return RP_WIRE_BAD_LENGTH;
    out->type = get_u16(buf + 2);
    out->payload_len = len - RP_HEADER_LEN;
    out->payload = buf + RP_HEADER_LEN; /* never NULL, even when empty */

    if (is_empty_type(out->type))
        return out->payload_len == 0 ? RP_WIRE_OK : RP_WIRE_BAD_PAYLOAD;
    if (rp_wire_has_session_id(out->type)) {
        out->session_id = out->payload;
        out->session_id_len = out->payload_len;
        return out->payload_len <= RUPHIN_MAX_SESSION_ID ? RP_WIRE_OK : RP_WIRE_BAD_PAYLOAD;
    }
    if (out->type >= RP_FRAME_CAPABILITIES && out->type <= RP_FRAME_UNREGISTER)
        return decode_ext(out);
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

/* A cursor for encoding: writing past cap clears ok. */
typedef struct writer {
    uint8_t *p;
    size_t left;
    bool ok;
} writer;

static void write_bytes(writer *w, const void *src, size_t n)
{
    if (!w->ok || n > w->left) {
        w->ok = false;
        return;
    }
    if (n)
        memmove(w->p, src, n); /* a Relay may wrap a frame already in place */
    w->p += n;
    w->left -= n;
}

static void write_u8(writer *w, uint8_t v)
{
    write_bytes(w, &v, 1);
}

static void write_u64(writer *w, uint64_t v)
{
    uint8_t b[8];
    int i;
    for (i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
    write_bytes(w, b, 8);
}

static void write_addr(writer *w, const ruphin_addr *a)
{
    uint8_t port[2];
    if (a->family != 4 && a->family != 6) {
        w->ok = false;
        return;
    }
    write_u8(w, a->family);
    write_bytes(w, a->ip, a->family == 4 ? 4 : 16);
    put_u16(port, a->port);
    write_bytes(w, port, 2);
}

static void write_locals(writer *w, const ruphin_addr *locals, size_t count)
{
    size_t i;
    if (count > RP_MAX_LOCALS || (locals == NULL && count > 0)) {
        w->ok = false;
        return;
    }
    write_u8(w, (uint8_t)count);
    for (i = 0; i < count; i++)
        write_addr(w, &locals[i]);
}

/* Starts a frame after its header; finish_frame writes the header. */
static writer start_frame(uint8_t *buf, size_t cap)
{
    writer w = {buf + RP_HEADER_LEN, cap >= RP_HEADER_LEN ? cap - RP_HEADER_LEN : 0,
                buf != NULL && cap >= RP_HEADER_LEN};
    return w;
}

static size_t finish_frame(uint8_t *buf, const writer *w, uint16_t type)
{
    size_t payload_len;
    if (!w->ok)
        return 0;
    payload_len = (size_t)(w->p - buf) - RP_HEADER_LEN;
    return put_header(buf, (size_t)(w->p - buf), type, payload_len);
}

size_t rp_wire_encode_capabilities(uint8_t *buf, size_t cap, uint64_t cookie)
{
    writer w = start_frame(buf, cap);
    write_u8(&w, RP_PROTOCOL_VERSION);
    if (cookie != 0)
        write_u64(&w, cookie);
    return finish_frame(buf, &w, RP_FRAME_CAPABILITIES);
}

static void write_session_id(writer *w, const uint8_t *id, size_t id_len)
{
    if (id_len > RUPHIN_MAX_SESSION_ID || (id == NULL && id_len > 0)) {
        w->ok = false;
        return;
    }
    write_u8(w, (uint8_t)id_len);
    write_bytes(w, id, id_len);
}

size_t rp_wire_encode_register_proof(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                     const ruphin_addr *locals, size_t local_count,
                                     uint64_t token, uint64_t cookie)
{
    writer w = start_frame(buf, cap);
    write_session_id(&w, id, id_len);
    write_locals(&w, locals, local_count);
    write_u64(&w, token);
    write_u64(&w, cookie);
    return finish_frame(buf, &w, RP_FRAME_REGISTER_EXT);
}

size_t rp_wire_encode_join_cookie(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                  const ruphin_addr *locals, size_t local_count, uint64_t cookie)
{
    writer w = start_frame(buf, cap);
    write_session_id(&w, id, id_len);
    write_locals(&w, locals, local_count);
    write_u64(&w, cookie);
    return finish_frame(buf, &w, RP_FRAME_JOIN_EXT);
}

size_t rp_wire_encode_join_resume(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                  const ruphin_addr *locals, size_t local_count, uint64_t cookie,
                                  const uint64_t resume[2], size_t pad_to)
{
    writer w = start_frame(buf, cap);
    write_session_id(&w, id, id_len);
    write_locals(&w, locals, local_count);
    write_u64(&w, cookie);
    write_u64(&w, resume[0]);
    write_u64(&w, resume[1]);
    while (w.ok && (size_t)(w.p - buf) < pad_to)
        write_u8(&w, 0);
    return finish_frame(buf, &w, RP_FRAME_JOIN_EXT);
}

size_t rp_wire_encode_register_ack_ext(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                       uint64_t token, uint64_t cookie)
{
    writer w = start_frame(buf, cap);
    write_session_id(&w, id, id_len);
    write_u64(&w, token);
    write_u64(&w, cookie);
    return finish_frame(buf, &w, RP_FRAME_REGISTER_ACK_EXT);
}

size_t rp_wire_encode_unregister(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                 uint64_t token)
{
    writer w = start_frame(buf, cap);
    write_session_id(&w, id, id_len);
    write_u64(&w, token);
    return finish_frame(buf, &w, RP_FRAME_UNREGISTER);
}

size_t rp_wire_encode_session_ext(uint8_t *buf, size_t cap, uint16_t type, const uint8_t *id,
                                  size_t id_len, const ruphin_addr *locals, size_t local_count,
                                  size_t pad_to)
{
    writer w = start_frame(buf, cap);
    if (type != RP_FRAME_REGISTER_EXT && type != RP_FRAME_JOIN_EXT)
        return 0;
    write_session_id(&w, id, id_len);
    write_locals(&w, locals, local_count);
    while (w.ok && (size_t)(w.p - buf) < pad_to)
        write_u8(&w, 0);
    return finish_frame(buf, &w, type);
}

size_t rp_wire_encode_peer_info_ext(uint8_t *buf, size_t cap, uint64_t nonce, uint8_t flags,
                                    const ruphin_addr *peer, const ruphin_addr *locals,
                                    size_t local_count)
{
    writer w = start_frame(buf, cap);
    write_u64(&w, nonce);
    write_u8(&w, flags);
    write_addr(&w, peer);
    write_locals(&w, locals, local_count);
    return finish_frame(buf, &w, RP_FRAME_PEER_INFO_EXT);
}

size_t rp_wire_encode_peer_info_resume(uint8_t *buf, size_t cap, uint64_t nonce, uint8_t flags,
                                       const ruphin_addr *peer, const ruphin_addr *locals,
                                       size_t local_count, const uint64_t resume[2])
{
    writer w = start_frame(buf, cap);
    write_u64(&w, nonce);
    write_u8(&w, flags | RP_RESUMES);
    write_addr(&w, peer);
    write_locals(&w, locals, local_count);
    write_u64(&w, resume[0]);
    write_u64(&w, resume[1]);
    return finish_frame(buf, &w, RP_FRAME_PEER_INFO_EXT);
}

size_t rp_wire_encode_hello_ext(uint8_t *buf, size_t cap, uint8_t kind, uint64_t nonce)
{
    writer w = start_frame(buf, cap);
    if (kind != RP_HELLO_EXT_REQ && kind != RP_HELLO_EXT_RESP && kind != RP_HELLO_EXT_BYE)
        return 0;
    write_u8(&w, kind);
    write_u64(&w, nonce);
    return finish_frame(buf, &w, RP_FRAME_HELLO_EXT);
}

int rp_wire_is_probe(const rp_frame *f)
{
    return f->type == RP_FRAME_REGISTER_ACK && f->session_id_len == RP_PROBE_ID_LEN &&
           memcmp(f->session_id, RP_PROBE_ID, RP_PROBE_ID_LEN) == 0;
}

size_t rp_wire_encode_join_probe(uint8_t *buf, size_t cap, const uint8_t *id, size_t id_len,
                                 const ruphin_addr *locals, size_t local_count)
{
    /* Capped at the probe's size: what does not fit fails the writer. */
    writer w = start_frame(buf, cap < RP_JOIN_PROBE_LEN ? cap : RP_JOIN_PROBE_LEN);
    write_bytes(&w, (const uint8_t *)RP_JOIN_PROBE_MARK, RP_JOIN_PROBE_MARK_LEN);
    write_session_id(&w, id, id_len);
    write_locals(&w, locals, local_count);
    while (w.ok && (size_t)(w.p - buf) < RP_JOIN_PROBE_LEN)
        write_u8(&w, 0);
    return finish_frame(buf, &w, RP_FRAME_REGISTER_ACK);
}

int rp_wire_decode_join_probe(const rp_frame *f, rp_frame *join)
{
    reader r = {f->session_id, f->session_id_len, true};
    if (f->type != RP_FRAME_REGISTER_ACK || f->session_id_len != RUPHIN_MAX_SESSION_ID ||
        memcmp(f->session_id, RP_JOIN_PROBE_MARK, RP_JOIN_PROBE_MARK_LEN) != 0)
        return 0;
    memset(join, 0, sizeof *join);
    join->type = RP_FRAME_JOIN_EXT;
    join->payload = f->payload;
    join->payload_len = f->payload_len;
    read_bytes(&r, RP_JOIN_PROBE_MARK_LEN);
    read_session_id(&r, join);
    read_locals(&r, join);
    skip_padding(&r);
    return r.ok;
}

size_t rp_wire_encode_relay(uint8_t *buf, size_t cap, uint64_t nonce, const uint8_t *payload,
                            size_t len)
{
    writer w = start_frame(buf, cap);
    write_u64(&w, nonce);
    if (payload != NULL || len == 0)
        write_bytes(&w, payload, len);
    else
        w.ok = false;
    return finish_frame(buf, &w, RP_FRAME_RELAY);
}

size_t rp_wire_encode_sealed(uint8_t *buf, size_t cap, uint8_t kind, uint64_t sender,
                             uint64_t receiver, uint64_t counter, size_t body_len)
{
    writer w = start_frame(buf, cap);
    write_u8(&w, kind);
    write_u64(&w, sender);
    write_u64(&w, receiver);
    write_u64(&w, counter);
    if (!w.ok || body_len > w.left)
        return 0;
    w.p += body_len; /* the caller fills it */
    return finish_frame(buf, &w, RP_FRAME_SEALED);
}
