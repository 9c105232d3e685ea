/*
 * The holepuncher's state machine: answers Register, Join and HelloReq, and
 * expires sessions whose owner stopped refreshing them.
 *
 * Decisions the original protocol left open (docs/PROTOCOL.md):
 * - a Register of a live id from another address is dropped and counted; the
 *   owner keeps the session until it stops refreshing it;
 * - when the table is full, Registers of new ids are dropped and counted;
 *   refreshes of existing sessions still work.
 * Generation 1: a probe gets Capabilities; RegisterExt marks the owner as
 * speaking generation 1; JoinExt (or a join probe, which stands for one)
 * gets PeerInfoExt (with a fresh nonce, and
 * the joiner's local addresses for the owner) where the other side speaks it.
 */
#include "roles.h"
#include "addr.h"

#include <stdlib.h>
#include <string.h>

/* A session event, unless the owner asked for none (RUPHIN_OPT_SESSION_EVENTS). */
static void session_event(rp_holepuncher *hp, int32_t type, const ruphin_addr *peer,
                          const uint8_t *id, size_t id_len)
{
    if (hp->cfg.session_events)
        rp_emit(&hp->out, type, 0, peer, id, id_len);
}

static int64_t session_lifetime(const rp_holepuncher *hp)
{
    return rp_config_silence_limit(&hp->cfg);
}

/* A request refused, for reason (a RUPHIN_STAT_REFUSED_* counter). */
static void refuse(rp_holepuncher *hp, ruphin_stat_id reason)
{
    rp_count(&hp->out, RUPHIN_STAT_RX_REFUSED);
    rp_count(&hp->out, reason);
}

/* ---- tokens and cookies (docs/SECURITY.md) ---- */

static rp_sipkey random_key(const rp_holepuncher *hp)
{
    rp_sipkey k;
    k.k0 = hp->out.random(hp->out.ctx);
    k.k1 = hp->out.random(hp->out.ctx);
    return k;
}

/* Cookies live for one window after the one they were made in; a window is
 * at least a session's lifetime, so an owner's last cookie is still good at
 * its next refresh. */
static int64_t cookie_window_ms(const rp_holepuncher *hp)
{
    int64_t life = session_lifetime(hp);
    return life > 30000 ? life : 30000;
}

/* A new window gets a new key; the last one stays for the cookies made in it. */
static void rotate_cookie_keys(rp_holepuncher *hp, int64_t now)
{
    int64_t length, window;
    if (now >= hp->cookie_from && now < hp->cookie_until)
        return; /* every request asks: a comparison, not a division */
    length = cookie_window_ms(hp);
    window = (now < 0 ? 0 : now) / length;
    hp->cookie_from = window == 0 ? INT64_MIN : window * length;
    hp->cookie_until = (window + 1) * length;
    if (window == hp->cookie_window)
        return;
    hp->cookie_keys[1] = window == hp->cookie_window + 1 ? hp->cookie_keys[0] : random_key(hp);
    hp->cookie_keys[0] = random_key(hp);
    hp->cookie_window = window;
}

/* MACs are never 0, which on the wire means "none". */
static uint64_t nonzero(uint64_t mac)
{
    return mac != 0 ? mac : 1;
}

static uint64_t cookie_in(const rp_holepuncher *hp, int which, const ruphin_addr *addr)
{
    uint8_t window[8];
    uint64_t w = (uint64_t)(hp->cookie_window - which);
    int i;
    for (i = 0; i < 8; i++, w >>= 8)
        window[i] = (uint8_t)w;
    return nonzero(rp_siphash_addr(&hp->cookie_keys[which], addr, window, sizeof window));
}

static uint64_t cookie_for(const rp_holepuncher *hp, const ruphin_addr *addr)
{
    return cookie_in(hp, 0, addr);
}

/* The sender echoed a cookie we gave to its address: it receives there. */
static bool cookie_valid(const rp_holepuncher *hp, const ruphin_addr *from, uint64_t cookie)
{
    return cookie != 0 && (cookie == cookie_in(hp, 0, from) || cookie == cookie_in(hp, 1, from));
}

static uint64_t owner_token(const rp_holepuncher *hp, const ruphin_addr *owner, const rp_frame *f)
{
    return nonzero(rp_siphash_addr(&hp->owner_key, owner, f->session_id, f->session_id_len));
}

int rp_holepuncher_init(rp_holepuncher *hp, const rp_config *cfg, const rp_output *out,
                        uint64_t seed)
{
    int rc;
    memset(hp, 0, sizeof *hp);
    hp->cfg = *cfg;
    hp->out = *out;
    hp->owner_key = random_key(hp);
    hp->cookie_window = -1;
    rc = rp_sessions_init(&hp->sessions, (uint32_t)cfg->max_sessions, seed);
    if (rc == RUPHIN_OK)
        rc = rp_ratelimit_init(&hp->per_source, cfg->rate_limit, seed ^ 0x5bd1e995u);
    if (rc == RUPHIN_OK)
        rc = rp_ratelimit_init(&hp->per_target, cfg->rate_limit, seed ^ 0xc2b2ae35u);
    if (rc == RUPHIN_OK && cfg->relay_rate > 0 &&
        (hp->relays = calloc(RP_RELAYS, sizeof *hp->relays)) == NULL)
        rc = RUPHIN_ERR_NOMEM;
    if (rc != RUPHIN_OK)
        rp_holepuncher_free(hp);
    return rc;
}

void rp_holepuncher_free(rp_holepuncher *hp)
{
    rp_sessions_free(&hp->sessions);
    rp_ratelimit_free(&hp->per_source);
    rp_ratelimit_free(&hp->per_target);
    free(hp->relays);
    hp->relays = NULL;
}

/* ---- the relay (opt-in): for peers that cannot punch each other ---- */

static rp_relay *relay_find(const rp_holepuncher *hp, uint64_t nonce)
{
    uint32_t i;
    for (i = 0; hp->relays != NULL && nonce != 0 && i < RP_RELAY_PROBES; i++) {
        rp_relay *r = &hp->relays[(nonce + i) % RP_RELAYS];
        if (r->nonce == nonce)
            return r;
    }
    return NULL;
}

/* Takes a slot for a new pair: a free one, or one idle for longer than a
 * session lives. false when the nearby slots are all busy. */
static bool relay_add(rp_holepuncher *hp, int64_t now, uint64_t nonce,
                      const ruphin_addr *client, const ruphin_addr *server)
{
    uint32_t i;
    for (i = 0; hp->relays != NULL && i < RP_RELAY_PROBES; i++) {
        rp_relay *r = &hp->relays[(nonce + i) % RP_RELAYS];
        if (r->nonce == 0 || now - r->last_used > session_lifetime(hp)) {
            memset(r, 0, sizeof *r);
            r->nonce = nonce;
            r->client = *client;
            r->server = *server;
            r->last_used = now;
            rp_count(&hp->out, RUPHIN_STAT_RELAY_PAIRS);
            return true;
        }
    }
    return false;
}

/* Forwards a Relay frame between the two peers of its pair, within the
 * pair's byte budget. The frame goes on unchanged: no amplification. */
static void on_relay(rp_holepuncher *hp, int64_t now, const ruphin_addr *from,
                     const rp_frame *f, size_t frame_len)
{
    rp_relay *r = relay_find(hp, f->nonce);
    const ruphin_addr *to = NULL;
    uint8_t frame[RP_HEADER_LEN + 8];
    uint32_t window = (uint32_t)(now / 1000);

    if (r != NULL && rp_addr_same(from, &r->client))
        to = &r->server;
    else if (r != NULL && rp_addr_same(from, &r->server))
        to = &r->client;
    if (to == NULL) {
        rp_count(&hp->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (r->window != window) {
        r->window = window;
        r->bytes = 0;
    }
    if (r->bytes + frame_len > (uint64_t)hp->cfg.relay_rate) {
        refuse(hp, RUPHIN_STAT_REFUSED_RELAY_BUDGET);
        return;
    }
    r->bytes += (uint32_t)frame_len;
    r->last_used = now;
    rp_count_add(&hp->out, RUPHIN_STAT_RELAYED_BYTES, (int64_t)frame_len);
    if (f->payload_len == 0) { /* a relay hello: small, re-encode it */
        rp_send_frame(&hp->out, to, frame,
                      rp_wire_encode_relay(frame, sizeof frame, f->nonce, NULL, 0));
        return;
    }
    /* The payload sits right after the header and the nonce in the datagram. */
    rp_send_frame(&hp->out, to, f->payload - RP_HEADER_LEN - 8, frame_len);
}



/* The session table's hash of the frame's id: the prefetch's, if it ran. */
static uint32_t id_hash(const rp_holepuncher *hp, const rp_frame *f)
{
    return f->id_hashed ? f->id_hash
                        : rp_sessions_hash(&hp->sessions, f->session_id, f->session_id_len);
}

static rp_session *find_session(const rp_holepuncher *hp, const rp_frame *f)
{
    return rp_sessions_find_hashed(&hp->sessions, id_hash(hp, f), f->session_id,
                                   f->session_id_len);
}

/* A new session owned by from; NULL when the table is full (counted). */
static rp_session *create_session(rp_holepuncher *hp, int64_t now, const ruphin_addr *from,
                                  const rp_frame *f)
{
    int full;
    rp_session *s = rp_sessions_add_hashed(&hp->sessions, id_hash(hp, f), f->session_id,
                                           f->session_id_len, from,
                                           (uint32_t)(now + session_lifetime(hp)), &full);
    if (s == NULL) {
        rp_count(&hp->out, RUPHIN_STAT_SESSIONS_REFUSED);
        return NULL;
    }
    session_event(hp, RUPHIN_EVENT_SESSION_REGISTERED, from, f->session_id, f->session_id_len);
    return s;
}

static void refresh(rp_holepuncher *hp, int64_t now, rp_session *s)
{
    rp_sessions_refresh(&hp->sessions, s, (uint32_t)(now + session_lifetime(hp)));
}

static void conflict(rp_holepuncher *hp)
{
    rp_count(&hp->out, RUPHIN_STAT_REGISTER_CONFLICTS);
}

/* Register, or RegisterExt without a proof: the owner's address is its only
 * credential, as in the original; a claimed session wants its token. */
/* Whether a (Register|Join)Ext's sender is at one of its local addresses. */
static bool without_nat(const ruphin_addr *from, const rp_frame *f)
{
    uint8_t i;
    for (i = 0; i < f->local_count; i++)
        if (rp_addr_same(&f->locals[i], from))
            return true;
    return false;
}

/* Whether none of a peer's local addresses has the port we see it from
 * (also when it gave none): its NAT changed its port. For a joiner, the
 * server's rule for probing its ports. */
static bool port_changed(const ruphin_addr *from, const rp_frame *join)
{
    uint8_t i;
    for (i = 0; i < join->local_count; i++)
        if (join->locals[i].port == from->port)
            return false;
    return true;
}

/* What the owner's registration says about its NAT, told to joiners. */
static void record_owner_nat(rp_session *s, const ruphin_addr *from, const rp_frame *f)
{
    rp_session_set_flag(s, RP_SESSION_NO_NAT, without_nat(from, f));
    rp_session_set_flag(s, RP_SESSION_PORT_KEPT, !port_changed(from, f));
}

static void on_register(rp_holepuncher *hp, int64_t now, const ruphin_addr *from,
                        const rp_frame *f)
{
    rp_session *s = find_session(hp, f);

    if (s != NULL && (!rp_session_owned_by(s, from) || rp_session_flag(s, RP_SESSION_CLAIMED))) {
        conflict(hp);
        return;
    }
    if (s != NULL)
        refresh(hp, now, s);
    else if ((s = create_session(hp, now, from, f)) == NULL)
        return;
    rp_session_set_flag(s, RP_SESSION_OWNER_EXT, f->type == RP_FRAME_REGISTER_EXT);
    record_owner_nat(s, from, f);
    rp_send_session(&hp->out, from, RP_FRAME_REGISTER_ACK, f->session_id, f->session_id_len);
}

/* RegisterAckExt: the token and a cookie for from. Never longer than the
 * RegisterExt that asked for it, whoever sent that. */
static void send_claim_ack(rp_holepuncher *hp, const ruphin_addr *from, const rp_frame *f)
{
    uint8_t frame[RP_HEADER_LEN + 1 + RUPHIN_MAX_SESSION_ID + 16];
    size_t len = rp_wire_encode_register_ack_ext(frame, sizeof frame, f->session_id,
                                                 f->session_id_len, owner_token(hp, from, f),
                                                 cookie_for(hp, from));
    rp_send_frame(&hp->out, from, frame, len);
}

static bool holds_token(const rp_holepuncher *hp, const rp_session *s, const rp_frame *f)
{
    ruphin_addr owner;
    rp_session_owner(s, &owner);
    return f->token == owner_token(hp, &owner, f);
}

/* A session registered without a proof belongs to its address alone (as in
 * on_register), so that address may claim it: a server whose probe answer
 * came late registered the original way first. */
static bool unclaimed_owner(const rp_session *s, const ruphin_addr *from)
{
    return !rp_session_flag(s, RP_SESSION_CLAIMED) && rp_session_owned_by(s, from);
}

/* RegisterExt with a proof. The token moves the session to wherever its
 * holder now is (a NAT rebinding of the owner); the new address counts as
 * proven only once it echoes a cookie made for it. */
static void on_claim(rp_holepuncher *hp, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    rp_session *s = find_session(hp, f);
    bool proven = false;

    if (s == NULL) {
        if ((s = create_session(hp, now, from, f)) == NULL)
            return;
    } else if (holds_token(hp, s, f) || unclaimed_owner(s, from)) {
        proven = rp_session_owned_by(s, from) && rp_session_flag(s, RP_SESSION_PROVEN);
        if (!rp_session_owned_by(s, from)) {
            rp_session_move(s, from);
            session_event(hp, RUPHIN_EVENT_SESSION_REGISTERED, from, f->session_id,
                          f->session_id_len);
        }
        refresh(hp, now, s);
    } else {
        /* Without the token, the owner's own address only learns it (an ack
         * that was lost, a restarted owner): nothing changes. */
        conflict(hp);
        if (rp_session_owned_by(s, from))
            send_claim_ack(hp, from, f);
        return;
    }
    rp_session_set_flag(s, RP_SESSION_OWNER_EXT | RP_SESSION_CLAIMED, 1);
    record_owner_nat(s, from, f);
    rp_session_set_flag(s, RP_SESSION_PROVEN, proven || cookie_valid(hp, from, f->cookie));
    send_claim_ack(hp, from, f);
}

/* The owner ends its session (or a holder of its token does, from anywhere):
 * no answer, so nothing to amplify; reported as SESSION_EXPIRED. */
static void on_unregister(rp_holepuncher *hp, const rp_frame *f)
{
    rp_session *s = find_session(hp, f);
    ruphin_addr owner;
    if (s == NULL || !holds_token(hp, s, f)) {
        conflict(hp);
        return;
    }
    rp_session_owner(s, &owner);
    session_event(hp, RUPHIN_EVENT_SESSION_EXPIRED, &owner, f->session_id, f->session_id_len);
    rp_sessions_remove(&hp->sessions, s);
}

static void send_peer_info(rp_holepuncher *hp, const ruphin_addr *to, const ruphin_addr *about)
{
    uint8_t frame[RP_PEER_INFO_V6_LEN];
    size_t len = rp_wire_encode_peer_info(frame, sizeof frame, about);
    rp_send_frame(&hp->out, to, frame, len);
}

static void send_peer_info_ext(rp_holepuncher *hp, const ruphin_addr *to, uint64_t nonce,
                               uint8_t flags, const ruphin_addr *about, const rp_frame *join)
{
    uint8_t frame[128];
    size_t len = rp_wire_encode_peer_info_ext(frame, sizeof frame, nonce, flags, about,
                                              join ? join->locals : NULL,
                                              join ? join->local_count : 0);
    rp_send_frame(&hp->out, to, frame, len);
}

/* The owner's PeerInfoExt about a joiner that resumes a lost path: it
 * names the connection resumed (path recovery, docs/PROTOCOL.md), which
 * the owner finds by those nonces. */
static void send_peer_info_resume(rp_holepuncher *hp, const ruphin_addr *to, uint64_t nonce,
                                  uint8_t flags, const ruphin_addr *about, const rp_frame *join)
{
    uint8_t frame[128];
    size_t len = rp_wire_encode_peer_info_resume(frame, sizeof frame, nonce, flags, about,
                                                 join->locals, join->local_count, join->resume);
    rp_send_frame(&hp->out, to, frame, len);
}

/* A Join's answer to the joiner is larger than a short Join: with the
 * no-amplification rule such a Join gets no answer, unless it echoed a
 * cookie for its address (docs/SECURITY.md). */
static bool would_amplify(const rp_holepuncher *hp, const ruphin_addr *from, const rp_frame *f,
                          const ruphin_addr *owner)
{
    size_t request = f->payload_len + RP_HEADER_LEN;
    size_t answer_ext = owner->family == 4 ? RP_PEER_INFO_EXT_V4_REPLY : RP_PEER_INFO_EXT_MAX_REPLY;
    if (f->type == RP_FRAME_JOIN_EXT) /* padded, or proven by a cookie: required */
        return request < answer_ext && !cookie_valid(hp, from, f->cookie);
    return hp->cfg.no_amplification &&
           request < (owner->family == 4 ? RP_PEER_INFO_V4_LEN : RP_PEER_INFO_V6_LEN);
}

/* Whether the owner may be sent a PeerInfo it did not ask for. A claimed
 * session's owner must have proven its address; one registered the original
 * way cannot, and is trusted only in the default mode (1), not the strict
 * one (2). */
static bool owner_reachable(const rp_holepuncher *hp, const rp_session *s)
{
    if (rp_session_flag(s, RP_SESSION_PROVEN) || hp->cfg.no_amplification == 0)
        return true;
    return !rp_session_flag(s, RP_SESSION_CLAIMED) && hp->cfg.no_amplification == 1;
}

/* The relay forwards to each side what the other sends: both must have
 * proven their address (the owner its session, the joiner with a cookie),
 * or a spoofed join would aim one at a victim. */
static bool session_relayable(const rp_session *s)
{
    return rp_session_flag(s, RP_SESSION_OWNER_EXT) && rp_session_flag(s, RP_SESSION_PROVEN);
}

/* Whether the relay would be offered to a join that proved its address:
 * told to one that did not (RP_RELAY_ON_PROOF), so that the client knows at
 * once that the server may scan its ports. Only where cookies are handed
 * out (not in a group, on_probe). */
static bool relay_on_proof(const rp_holepuncher *hp, const rp_session *s)
{
    return hp->relays != NULL && hp->cfg.workers <= 1 && session_relayable(s);
}

/* The answer to a JoinExt: PeerInfoExt with a fresh nonce to both peers (a
 * generation-0 PeerInfo to an owner that registered the original way), the
 * owner's first: the joiner's first hello (and any early data after it)
 * then reaches a server that already knows it. */
static void announce_ext(rp_holepuncher *hp, int64_t now, const ruphin_addr *from,
                         const rp_frame *f, const rp_session *s, const ruphin_addr *owner)
{
    bool owner_ext = rp_session_flag(s, RP_SESSION_OWNER_EXT);
    bool proven = cookie_valid(hp, from, f->cookie);
    uint64_t nonce = hp->out.random(hp->out.ctx);
    uint8_t relay = proven && session_relayable(s) && relay_add(hp, now, nonce, from, owner)
                        ? RP_RELAY_OFFERED : 0;
    uint8_t to_joiner = (owner_ext ? RP_PEER_SPEAKS_EXT : 0) | relay;

    if (port_changed(from, f))
        to_joiner |= RP_PORT_CHANGED;
    if (rp_session_flag(s, RP_SESSION_NO_NAT))
        to_joiner |= RP_PEER_WITHOUT_NAT;
    if (rp_session_flag(s, RP_SESSION_PORT_KEPT))
        to_joiner |= RP_PEER_PORT_KEPT;
    if (!proven && relay_on_proof(hp, s))
        to_joiner |= RP_RELAY_ON_PROOF;
    if (owner_ext && (f->resume[0] != 0 || f->resume[1] != 0))
        send_peer_info_resume(hp, owner, nonce, RP_PEER_SPEAKS_EXT | relay, from, f);
    else if (owner_ext)
        send_peer_info_ext(hp, owner, nonce, RP_PEER_SPEAKS_EXT | relay, from, f);
    else
        send_peer_info(hp, owner, from);
    send_peer_info_ext(hp, from, nonce, to_joiner, owner, NULL);
}

static void on_join(rp_holepuncher *hp, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    rp_session *s = find_session(hp, f);
    ruphin_addr owner;

    if (s == NULL) { /* never longer than the Join */
        rp_send_session(&hp->out, from, RP_FRAME_SESSION_NOT_FOUND, f->session_id,
                        f->session_id_len);
        return;
    }
    rp_session_owner(s, &owner);
    if (would_amplify(hp, from, f, &owner)) {
        refuse(hp, RUPHIN_STAT_REFUSED_AMPLIFICATION);
        return;
    }
    if (!owner_reachable(hp, s)) {
        refuse(hp, RUPHIN_STAT_REFUSED_UNPROVEN_OWNER);
        return;
    }
    if (!rp_ratelimit_allow(&hp->per_target, &owner, now)) {
        refuse(hp, RUPHIN_STAT_REFUSED_RATE_LIMIT);
        return;
    }
    if (f->type == RP_FRAME_JOIN_EXT) {
        announce_ext(hp, now, from, f, s, &owner);
    } else { /* the owner's first, as above */
        send_peer_info(hp, &owner, from);
        send_peer_info(hp, from, &owner);
    }
    session_event(hp, RUPHIN_EVENT_SESSION_JOINED, from, f->session_id, f->session_id_len);
}

/* A member of a group (RUPHIN_OPT_WORKERS) gives no cookie: a probe carries
 * no session id, so it may reach another member than the client's Join,
 * whose keys differ. Its clients then pad their Joins, as before cookies. */
static void on_probe(rp_holepuncher *hp, const ruphin_addr *from)
{
    uint8_t frame[16]; /* as long as the probe: no amplification */
    uint64_t cookie = hp->cfg.workers > 1 ? 0 : cookie_for(hp, from);
    size_t len = rp_wire_encode_capabilities(frame, sizeof frame, cookie);
    rp_send_frame(&hp->out, from, frame, len);
}

void rp_holepuncher_input(rp_holepuncher *hp, int64_t now, const ruphin_addr *from,
                          const rp_frame *frame)
{
    bool ext = hp->cfg.extensions;
    rp_frame join; /* what a join probe stands for */
    hp->last_now = now;
    rotate_cookie_keys(hp, now);
    /* Relayed traffic has its own budget (per pair, in bytes). */
    if (frame->type != RP_FRAME_RELAY && !rp_ratelimit_allow(&hp->per_source, from, now)) {
        refuse(hp, RUPHIN_STAT_REFUSED_RATE_LIMIT);
        return;
    }
    if (ext && frame->type == RP_FRAME_REGISTER_EXT && frame->has_proof) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_REGISTER);
        on_claim(hp, now, from, frame);
    } else if (frame->type == RP_FRAME_REGISTER ||
               (ext && frame->type == RP_FRAME_REGISTER_EXT)) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_REGISTER);
        on_register(hp, now, from, frame);
    } else if (frame->type == RP_FRAME_JOIN || (ext && frame->type == RP_FRAME_JOIN_EXT)) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_JOIN);
        on_join(hp, now, from, frame);
    } else if (frame->type == RP_FRAME_HELLO_REQ) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_HELLO);
        rp_send_empty(&hp->out, from, RP_FRAME_HELLO_RESP);
    } else if (ext && rp_wire_is_probe(frame)) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_PROBE);
        on_probe(hp, from);
    } else if (ext && rp_wire_decode_join_probe(frame, &join)) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_JOIN);
        on_join(hp, now, from, &join);
    } else if (ext && frame->type == RP_FRAME_UNREGISTER) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_UNREGISTER);
        on_unregister(hp, frame);
    } else if (ext && frame->type == RP_FRAME_RELAY) {
        rp_count(&hp->out, RUPHIN_STAT_REQUESTS_RELAY);
        on_relay(hp, now, from, frame, frame->payload_len + RP_HEADER_LEN + 8);
    } else {
        rp_count(&hp->out, RUPHIN_STAT_RX_UNEXPECTED);
    }
}

void rp_holepuncher_prefetch(const rp_holepuncher *hp, rp_frame *frame, int round)
{
    if (frame->session_id == NULL)
        return;
    if (!frame->id_hashed) {
        frame->id_hash = rp_sessions_hash(&hp->sessions, frame->session_id, frame->session_id_len);
        frame->id_hashed = 1;
    }
    rp_sessions_prefetch(&hp->sessions, frame->id_hash, frame->session_id,
                         frame->session_id_len,
                         frame->type == RP_FRAME_REGISTER || frame->type == RP_FRAME_REGISTER_EXT,
                         round);
}

/* Reports a session about to expire; keeps it while the event queue is
 * full: the deadline stays due, so the next poll goes on where this one
 * stopped and no event is lost. */
static int report_expiry(void *ctx, const rp_session *s)
{
    rp_holepuncher *hp = ctx;
    ruphin_addr owner;
    if (rp_events_full(hp->out.events))
        return 1;
    rp_session_owner(s, &owner);
    session_event(hp, RUPHIN_EVENT_SESSION_EXPIRED, &owner, s->id, s->id_len);
    return 0;
}

void rp_holepuncher_tick(rp_holepuncher *hp, int64_t now)
{
    hp->last_now = now;
    /* Without session events nothing is reported, and nothing waits. */
    rp_sessions_expire(&hp->sessions, now, hp->cfg.session_events ? report_expiry : NULL, hp);
}

int64_t rp_holepuncher_deadline(const rp_holepuncher *hp)
{
    const rp_session *s = rp_sessions_oldest(&hp->sessions);
    if (s == NULL)
        return RUPHIN_NO_DEADLINE;
    /* Only the low 32 bits of the expiry are stored; rebuild the full time
     * from the last time seen, which is less than a lifetime away. */
    return hp->last_now + (int32_t)(s->expires - (uint32_t)hp->last_now);
}
