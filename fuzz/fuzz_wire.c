/* libFuzzer target: the wire decoder, and re-encoding what it accepts. */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static void check_reencode(const uint8_t *data, size_t size, const rp_frame *f)
{
    uint8_t buf[RP_MAX_FRAME_LEN];
    size_t n;
    if (f->type == RP_FRAME_CAPABILITIES) {
        if (f->payload_len != (f->cookie ? 9u : 1u) || f->version != RP_PROTOCOL_VERSION)
            return; /* another version's, which we decode but never send */
        n = rp_wire_encode_capabilities(buf, sizeof buf, f->cookie);
    } else if (f->type == RP_FRAME_REGISTER_EXT && f->has_proof) {
        n = rp_wire_encode_register_proof(buf, sizeof buf, f->session_id, f->session_id_len,
                                          f->locals, f->local_count, f->token, f->cookie);
        if (n < size)
            return; /* padding after a proof: decoded, never sent */
    } else if (f->type == RP_FRAME_JOIN_EXT && (f->resume[0] != 0 || f->resume[1] != 0)) {
        n = rp_wire_encode_join_resume(buf, sizeof buf, f->session_id, f->session_id_len,
                                       f->locals, f->local_count, f->cookie, f->resume, size);
    } else if (f->type == RP_FRAME_JOIN_EXT && f->cookie != 0) {
        n = rp_wire_encode_join_cookie(buf, sizeof buf, f->session_id, f->session_id_len,
                                       f->locals, f->local_count, f->cookie);
        if (n < size)
            return; /* padding after a cookie: decoded, never sent */
    } else if (f->type == RP_FRAME_UNREGISTER)
        n = rp_wire_encode_unregister(buf, sizeof buf, f->session_id, f->session_id_len, f->token);
    else if (f->type == RP_FRAME_REGISTER_ACK_EXT)
        n = rp_wire_encode_register_ack_ext(buf, sizeof buf, f->session_id, f->session_id_len,
                                            f->token, f->cookie);
    else if (f->type == RP_FRAME_REGISTER_EXT || f->type == RP_FRAME_JOIN_EXT)
        n = rp_wire_encode_session_ext(buf, sizeof buf, f->type, f->session_id,
                                       f->session_id_len, f->locals, f->local_count, size);
    else if (f->type == RP_FRAME_PEER_INFO_EXT && (f->flags & RP_RESUMES))
        n = rp_wire_encode_peer_info_resume(buf, sizeof buf, f->nonce, f->flags, &f->peer,
                                            f->locals, f->local_count, f->resume);
    else if (f->type == RP_FRAME_PEER_INFO_EXT)
        n = rp_wire_encode_peer_info_ext(buf, sizeof buf, f->nonce, f->flags, &f->peer,
                                         f->locals, f->local_count);
    else if (f->type == RP_FRAME_HELLO_EXT)
        n = rp_wire_encode_hello_ext(buf, sizeof buf, f->flags, f->nonce);
    else if (f->type == RP_FRAME_RELAY)
        n = rp_wire_encode_relay(buf, sizeof buf, f->nonce, f->payload, f->payload_len);
    else if (f->type == RP_FRAME_SEALED) { /* the seal's header; the body as it came */
        size_t body = f->payload_len - RP_SEAL_HEADER_LEN;
        n = rp_wire_encode_sealed(buf, sizeof buf, f->flags, f->nonce, f->epoch_to, f->counter,
                                  body);
        if (n != 0)
            memcpy(buf + n - body, f->payload + RP_SEAL_HEADER_LEN, body);
    } else if (f->type == RP_FRAME_PEER_INFO)
        n = rp_wire_encode_peer_info(buf, sizeof buf, &f->peer);
    else if (f->type == RP_FRAME_DATA)
        n = rp_wire_encode_data(buf, sizeof buf, f->payload, f->payload_len);
    else if (rp_wire_has_session_id(f->type))
        n = rp_wire_encode_session(buf, sizeof buf, f->type, f->payload, f->payload_len);
    else
        n = rp_wire_encode_empty(buf, sizeof buf, f->type);
    /* Data over the UDP payload limit cannot be encoded; all else round-trips. */
    if (f->type == RP_FRAME_DATA && f->payload_len > RP_MAX_DATA_LEN)
        return;
    if (n != size || memcmp(buf, data, size) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_frame f;
    if (rp_wire_decode(data, size, &f) == RP_WIRE_OK)
        check_reencode(data, size, &f);
    return 0;
}
