/*
 * The client peer's state machine: joins a session at the holepuncher,
 * punches toward the server it is told about, and keeps the path open.
 *
 * JOINING: Join, retransmitted with backoff, until PeerInfo or
 *   SessionNotFound arrives or the handshake timeout passes.
 * PUNCHING: HelloReq to the server every punch interval; Join keeps being
 *   re-sent with backoff so the holepuncher re-announces us to the server
 *   in case that PeerInfo got lost. A hello (or Data) from the server connects.
 * CONNECTED: HelloReq every keepalive interval keeps both NAT mappings open
 *   (Linux forgets idle UDP flows after 30 s); silence for missed keepalives
 *   means the server is gone.
 * Path recovery (generation 1): a server that stops answering is probed
 *   (rp_watch); when the probes go unanswered the path is lost (PATH_LOST)
 *   and the client is PUNCHING again, "recovering": it re-joins naming the
 *   lost connection (resume), punches whatever address the holepuncher gives,
 *   and PATH_RESTORED reports the server proven again (its nonce), or FAILED
 *   (PEER_LOST) the end of RECOVERY_TIMEOUT_MS.
 */
#include "roles.h"
#include "addr.h"

#include <string.h>

void rp_client_init(rp_client *c, const rp_config *cfg, const rp_output *out,
                    const ruphin_addr *holepuncher, const uint8_t *id, size_t id_len)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->out = *out;
    c->holepuncher = *holepuncher;
    if (id_len > 0)
        memcpy(c->session_id, id, id_len);
    c->session_id_len = id_len;
    c->state = RUPHIN_STATE_IDLE;
    c->give_up = c->next_hello = c->next_seal_hello = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&c->join_retry);
    rp_watch_reset(&c->watch);
    if (cfg->sealed)
        rp_seal_session_key(cfg->seal_key, id, id_len, c->cfg.seal_key);
    rp_scan_stop(&c->scan);
}

void rp_client_set_locals(rp_client *c, const ruphin_addr *locals, size_t count)
{
    size_t i;
    c->local_count = 0;
    for (i = 0; i < count && i < RP_MAX_LOCALS; i++)
        c->locals[c->local_count++] = locals[i];
}

/* The join probe (wire.h), with our first local address when it fits (it
 * tells the holepuncher whether our NAT kept our port, and the server where
 * to find us on a shared LAN); not sent when the session id leaves no room
 * for it. */
static void send_join_probe(rp_client *c)
{
    uint8_t frame[RP_JOIN_PROBE_LEN];
    size_t len = rp_wire_encode_join_probe(frame, sizeof frame, c->session_id, c->session_id_len,
                                           c->locals, c->local_count > 0 ? 1 : 0);
    if (len > 0)
        rp_send_frame(&c->out, &c->holepuncher, frame, len);
}

/* Join, or JoinExt (with our local addresses, and the cookie that proves our
 * address or else padding so that the answer is no larger) once the
 * holepuncher showed it speaks generation 1. Until it did, the probe and
 * the join probe go along with every Join: a lost probe or answer would
 * otherwise leave us on generation 0 for good, and a holepuncher refuses a
 * Join with a short session id (its answer would be larger) but answers
 * the join probe at once. */
static void send_join(rp_client *c)
{
    uint8_t frame[160];
    size_t len;
    if (c->recovering && !c->hp_ext) {
        /* The holepuncher speaks generation 1 (it announced the server
         * with a nonce) but its Capabilities were lost: ask again, and
         * re-join once it answered, naming the connection; a plain or
         * probing join now would be a new client to the server. */
        rp_send_probe(&c->out, &c->holepuncher);
        return;
    }
    if (!c->hp_ext) {
        if (c->cfg.extensions) {
            rp_send_probe(&c->out, &c->holepuncher);
            send_join_probe(c);
        }
        rp_send_session(&c->out, &c->holepuncher, RP_FRAME_JOIN, c->session_id,
                        c->session_id_len);
        return;
    }
    if (c->recovering && c->reprobe)
        rp_send_probe(&c->out, &c->holepuncher); /* a cookie for where we are now */
    if (c->recovering && c->hp_version >= RP_RESUME_VERSION)
        len = rp_wire_encode_join_resume(frame, sizeof frame, c->session_id, c->session_id_len,
                                         c->locals, c->local_count, c->cookie, c->resume,
                                         c->cookie != 0 ? 0 : RP_PEER_INFO_EXT_MAX_REPLY);
    else if (c->cookie != 0)
        len = rp_wire_encode_join_cookie(frame, sizeof frame, c->session_id, c->session_id_len,
                                         c->locals, c->local_count, c->cookie);
    else
        len = rp_wire_encode_session_ext(frame, sizeof frame, RP_FRAME_JOIN_EXT, c->session_id,
                                         c->session_id_len, c->locals, c->local_count,
                                         RP_PEER_INFO_EXT_MAX_REPLY);
    rp_send_frame(&c->out, &c->holepuncher, frame, len);
}

void rp_client_start(rp_client *c, int64_t now)
{
    c->state = RUPHIN_STATE_JOINING;
    c->give_up = now + c->cfg.handshake_timeout_ms;
    /* Probe and join at once: the generation-0 answer costs no extra round
     * trip, and generation 1 follows when the holepuncher speaks it. */
    send_join(c);
    rp_retry_start(&c->join_retry, now, &c->cfg);
}

static void fail(rp_client *c, int32_t error, const ruphin_addr *peer)
{
    rp_scan_stop(&c->scan);
    c->recovering = false;
    c->state = RUPHIN_STATE_FAILED;
    c->give_up = c->next_hello = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&c->join_retry);
    rp_emit(&c->out, RUPHIN_EVENT_FAILED, error, peer, c->session_id, c->session_id_len);
}

static bool is_our_session(const rp_client *c, const rp_frame *f)
{
    return f->session_id_len == c->session_id_len &&
           memcmp(f->session_id, c->session_id, c->session_id_len) == 0;
}

static bool speaks_ext(const rp_client *c)
{
    return c->nonce != 0 && c->server_ext;
}

static void send_hello_ext(rp_client *c, const ruphin_addr *to, uint8_t kind, uint64_t nonce)
{
    uint8_t frame[32];
    size_t len = rp_wire_encode_hello_ext(frame, sizeof frame, kind, nonce);
    rp_send_frame(&c->out, to, frame, len);
}

/* A frame to the server's address: hellos and early data while punching,
 * with a low TTL while the server may probe our ports (choose_hello_ttl). */
static int send_direct(rp_client *c, const uint8_t *frame, size_t len)
{
    if (c->state == RUPHIN_STATE_PUNCHING && c->low_ttl)
        return rp_send_frame_ttl(&c->out, &c->server, frame, len, RP_LOW_TTL);
    return rp_send_frame(&c->out, &c->server, frame, len);
}

static void send_hello(rp_client *c, int64_t now, int64_t gap)
{
    uint8_t frame[32];
    if (speaks_ext(c))
        send_direct(c, frame,
                    rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_REQ, c->nonce));
    else
        rp_send_empty(&c->out, &c->server, RP_FRAME_HELLO_REQ);
    c->next_hello = now + gap;
}

/* How long to punch before trying the relay (the peers' RELAY_RATE option). */
static int64_t relay_delay(const rp_config *cfg)
{
    return cfg->relay_rate > 0 ? cfg->relay_rate : cfg->handshake_timeout_ms / 3;
}

static int send_relay(rp_client *c, const uint8_t *payload, size_t len, uint8_t *buf,
                      size_t cap)
{
    return rp_send_frame(&c->out, &c->holepuncher, buf,
                         rp_wire_encode_relay(buf, cap, c->nonce, payload, len));
}

static void send_relay_hello(rp_client *c)
{
    uint8_t frame[RP_HEADER_LEN + 8];
    send_relay(c, NULL, 0, frame, sizeof frame);
}

/* Probes the server's ports should plain punching fail (rp_scan). The
 * relay, unless the peers' RELAY_RATE option says when, waits for the whole
 * scan (and a few punch intervals for its answer): a direct path is worth
 * the wait, and the server's scan of our ports, if it scans, runs about as
 * long as ours (slower when its probes cross more routers). */
static int64_t scan_end(const rp_client *c, int64_t now)
{
    return now + rp_scan_delay(&c->cfg) + RP_SCAN_PASSES * rp_scan_pass_ms() +
           3 * c->cfg.punch_interval_ms;
}

static void start_scan(rp_client *c, int64_t now)
{
    int64_t after_scan = scan_end(c, now);
    rp_scan_start(&c->scan, &c->server, now + rp_scan_delay(&c->cfg));
    if (c->cfg.relay_rate == 0 && c->relay_from < after_scan)
        c->relay_from = after_scan;
}

/* When the holepuncher offers the relay and saw our NAT change our port,
 * the server probes our ports (server.c): our NAT maps us to a port of its
 * own choosing for the server, possibly a new one per destination. A
 * packet of ours that reaches the server's router before the probe to that
 * port left could make a router that takes unsolicited packets in record
 * an inbound flow from it; the probe then clashes, leaves from another
 * port, and our NAT drops it (the conntrack clash, docs/NAT.md). So our
 * hellos (and early data) have a low TTL for as long as that scan may run:
 * they open our NAT for the probe and die before the server's router. The
 * server punches at full TTL once it probes, which reaches a NAT that
 * changed our port but keeps it for every destination. After that, full
 * hellos (a server busy with another scan may need them). A server without
 * NAT (the holepuncher says so) gets full hellos at once: they reach it
 * before anything else could, and there is no router to clash. */
static bool server_may_scan(uint8_t flags)
{
    return (flags & (RP_RELAY_OFFERED | RP_RELAY_ON_PROOF)) != 0 &&
           (flags & RP_PORT_CHANGED) != 0 && (flags & RP_PEER_WITHOUT_NAT) == 0;
}

/* The answer to our join probe can only say that the relay would be
 * offered (RP_RELAY_ON_PROOF); the answer to our JoinExt with its cookie
 * says whether it is. If it is not after all, the server will not scan:
 * full hellos at once. */
static void choose_hello_ttl(rp_client *c, int64_t now, const rp_frame *f)
{
    if (!speaks_ext(c))
        return;
    if (server_may_scan(f->flags)) {
        if (c->low_ttl_until == 0) {
            c->low_ttl = true;
            c->low_ttl_until = scan_end(c, now);
        }
        /* The relay waits for the server's scan, also when we do not scan. */
        if (c->cfg.relay_rate == 0 && c->relay_from < c->low_ttl_until)
            c->relay_from = c->low_ttl_until;
        c->scan_confirmed |= (f->flags & RP_RELAY_OFFERED) != 0;
    } else if (c->low_ttl && !c->scan_confirmed) {
        c->low_ttl = false;
    }
}

/* Whether to probe the server's ports, once per handshake. Not while the
 * server scans ours and its NAT kept its port (then the port our hellos go
 * to is right, and two scans at once flood the server's router: one that
 * takes unsolicited packets in records a flow for each of our probes).
 * Otherwise we scan: a server whose NAT maps it anew per destination, or a
 * clash at the server's router, sends to us from a port we cannot know. */
static bool should_scan(const rp_client *c, const rp_frame *f)
{
    bool server_scans_us = server_may_scan(f->flags);
    if (!speaks_ext(c) || c->scan.sent != 0 || rp_scan_running(&c->scan) ||
        !rp_scan_possible(&c->server))
        return false;
    return !(server_scans_us && (f->flags & RP_PEER_PORT_KEPT) != 0);
}

static void on_capabilities(rp_client *c, const rp_frame *f)
{
    if (c->hp_ext && !(c->recovering && c->reprobe))
        return;
    c->reprobe = false;
    c->hp_ext = true;
    c->hp_version = f->version;
    c->cookie = f->cookie;
    send_join(c); /* JoinExt at once */
}

/* PeerInfo or PeerInfoExt. */
static void on_peer_info(rp_client *c, int64_t now, const rp_frame *f)
{
    bool ext = f->type == RP_FRAME_PEER_INFO_EXT;
    if (f->peer.port == 0 || rp_addr_is_any(&f->peer)) {
        rp_count(&c->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (!ext && c->nonce != 0)
        return; /* the generation-0 answer to our first Join, after the better one */
    /* Otherwise take the newest announcement: the server's public address
     * may have changed between two of our Joins. */
    c->server = f->peer;
    if (ext) {
        if (c->nonce != f->nonce) {
            c->old_nonce = c->nonce;
            c->nonce = f->nonce;
        }
        c->server_ext = (f->flags & RP_PEER_SPEAKS_EXT) != 0;
        c->relay_offered = (f->flags & RP_RELAY_OFFERED) != 0;
        if (c->relay_from == 0) /* from the first announcement, not from re-joins */
            c->relay_from = now + relay_delay(&c->cfg);
        choose_hello_ttl(c, now, f);
        if (should_scan(c, f))
            start_scan(c, now);
    }
    if (c->state == RUPHIN_STATE_JOINING)
        rp_emit(&c->out, RUPHIN_EVENT_PEER_ANNOUNCED, 0, &c->server, NULL, 0);
    c->state = RUPHIN_STATE_PUNCHING;
    send_hello(c, now, c->cfg.punch_interval_ms);
}

/* A frame for the server, already written at buf + off: sent as it is, or
 * inside a Relay frame (which has room before it) while relayed. */
static int send_to_server(rp_client *c, uint8_t *buf, size_t off, size_t len, size_t cap)
{
    if (c->state != RUPHIN_STATE_RELAYED)
        return rp_send_frame(&c->out, &c->server, buf + off, len);
    return rp_send_frame(&c->out, &c->holepuncher, buf,
                         rp_wire_encode_relay(buf, cap, c->nonce, buf + off, len));
}

/* ---- sealed sessions: the seal is proven before CONNECTED (seal.h) ---- */

static bool awaiting_seal(const rp_client *c)
{
    return c->cfg.sealed && !rp_seal_ready(&c->seal);
}

static void send_seal_hello(rp_client *c, int64_t now, uint64_t echo)
{
    uint8_t buf[2 * RP_HEADER_LEN + 8 + RP_SEAL_OVERHEAD];
    size_t off = RP_HEADER_LEN + 8;
    size_t len = rp_seal_hello(c->cfg.seal_key, &c->seal, echo, buf + off, sizeof buf - off);
    send_to_server(c, buf, off, len, sizeof buf);
    c->next_seal_hello = now + c->cfg.punch_interval_ms;
}

/* A path to the server exists: prove the key before reporting it. */
static void start_seal(rp_client *c, int64_t now)
{
    if (c->seal.mine != 0)
        return; /* already under way (the path changed meanwhile) */
    rp_seal_start(&c->seal, c->out.random(c->out.ctx));
    c->give_up = now + c->cfg.handshake_timeout_ms;
    send_seal_hello(c, now, 0);
}

/* The server was heard: the path works. */
static void heard(rp_client *c, int64_t now)
{
    c->last_heard = now;
    rp_watch_reset(&c->watch);
}

/* CONNECTED or RELAYED, reported as such; after a lost path, PATH_RESTORED
 * with the address the path had before when it changed. */
static void report_path(rp_client *c)
{
    if (c->recovering) {
        bool moved = !rp_addr_same(&c->lost_at, &c->server);
        c->recovering = false;
        rp_emit(&c->out, RUPHIN_EVENT_PATH_RESTORED, 0, &c->server,
                moved ? (const uint8_t *)&c->lost_at : NULL, moved ? sizeof c->lost_at : 0);
        return;
    }
    rp_emit(&c->out,
            c->state == RUPHIN_STATE_RELAYED ? RUPHIN_EVENT_RELAYED : RUPHIN_EVENT_CONNECTED, 0,
            &c->server, NULL, 0);
}

/* The server seals under another key: fail (RUPHIN_ERR_AUTH). It may not
 * have seen enough of our SealHellos to know yet, and sees no more after
 * this: a last few tell it (rp_seal_keys_differ), instead of leaving it to
 * its handshake timeout. */
static void give_up_on_seal(rp_client *c, int64_t now)
{
    int i;
    for (i = 0; i < RP_SEAL_KEYS_DIFFER; i++)
        send_seal_hello(c, now, 0);
    fail(c, RUPHIN_ERR_AUTH, &c->server);
}

static void on_sealed(rp_client *c, int64_t now, const rp_frame *f)
{
    bool was_ready = rp_seal_ready(&c->seal);
    const uint8_t *plain;
    size_t len;
    uint64_t echo;
    switch (rp_seal_open(c->cfg.seal_key, &c->seal, f, &echo, &plain, &len)) {
    case RP_SEAL_REJECTED:
        rp_count(&c->out, RUPHIN_STAT_RX_REJECTED);
        if (rp_seal_keys_differ(&c->seal))
            give_up_on_seal(c, now);
        return;
    case RP_SEAL_HELLO_STALE:
    case RP_SEAL_HELLO_FRESH:
        send_seal_hello(c, now, echo);
        break;
    case RP_SEAL_HELLO_KNOWN:
        break;
    case RP_SEAL_OPENED:
        rp_emit(&c->out, RUPHIN_EVENT_DATA, 0, &c->server, plain, len);
        break;
    }
    heard(c, now);
    if (!was_ready && rp_seal_ready(&c->seal)) {
        c->give_up = c->next_seal_hello = RUPHIN_NO_DEADLINE;
        report_path(c);
    }
}

/* Data from the server, plain or (sealed sessions) a Sealed frame. */
static void on_server_data(rp_client *c, int64_t now, const uint8_t *data, size_t len)
{
    rp_frame inner;
    bool sealed = rp_wire_decode(data, len, &inner) == RP_WIRE_OK &&
                  inner.type == RP_FRAME_SEALED;
    if (!c->cfg.sealed && sealed)
        fail(c, RUPHIN_ERR_AUTH, &c->server); /* a sealed session, and we have no key */
    else if (!c->cfg.sealed)
        rp_emit(&c->out, RUPHIN_EVENT_DATA, 0, &c->server, data, len);
    else if (sealed)
        on_sealed(c, now, &inner);
    else
        rp_count(&c->out, RUPHIN_STAT_RX_REJECTED);
}

static void become_connected(rp_client *c, int64_t now)
{
    rp_scan_stop(&c->scan);
    c->state = RUPHIN_STATE_CONNECTED;
    c->give_up = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&c->join_retry);
    heard(c, now);
    c->next_hello = now + c->cfg.keepalive_ms;
    /* Tell the server at once which of its paths we took (it may have
     * connected us on another one), before any Data goes there. */
    if (speaks_ext(c))
        send_hello_ext(c, &c->server, RP_HELLO_EXT_REQ, c->nonce);
    if (awaiting_seal(c)) {
        c->seal.mine = 0; /* (re)start on this path: the relay's attempt may be lost */
        start_seal(c, now);
        return;
    }
    report_path(c);
}

static void on_server_frame(rp_client *c, int64_t now, const rp_frame *f)
{
    if (f->type == RP_FRAME_HELLO_REQ)
        rp_send_empty(&c->out, &c->server, RP_FRAME_HELLO_RESP);
    if (c->state == RUPHIN_STATE_PUNCHING || c->state == RUPHIN_STATE_RELAYED)
        become_connected(c, now); /* a direct path, at last: leave the relay */
    heard(c, now);
    if (f->type == RP_FRAME_DATA && c->cfg.sealed)
        rp_count(&c->out, RUPHIN_STAT_RX_REJECTED); /* not sealed */
    else if (f->type == RP_FRAME_DATA)
        rp_emit(&c->out, RUPHIN_EVENT_DATA, 0, &c->server, f->payload, f->payload_len);
}

static bool is_server_frame(const rp_frame *f)
{
    return f->type == RP_FRAME_HELLO_REQ || f->type == RP_FRAME_HELLO_RESP ||
           f->type == RP_FRAME_DATA;
}

static void become_relayed(rp_client *c, int64_t now)
{
    rp_scan_stop(&c->scan);
    c->state = RUPHIN_STATE_RELAYED;
    c->give_up = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&c->join_retry);
    heard(c, now);
    c->next_hello = now + c->cfg.keepalive_ms;
    if (awaiting_seal(c)) {
        start_seal(c, now);
        return;
    }
    report_path(c);
}

/* A Relay frame from the holepuncher: the server's answer to our relay hello,
 * its relayed data, or a keepalive answer. */
static void on_relay(rp_client *c, int64_t now, const rp_frame *f)
{
    if (f->nonce != c->nonce || c->nonce == 0 || !c->relay_offered) {
        rp_count(&c->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (c->state == RUPHIN_STATE_PUNCHING)
        become_relayed(c, now);
    heard(c, now);
    if (f->payload_len > 0)
        on_server_data(c, now, f->payload, f->payload_len);
}

/* A nonce the server proves itself with: our join's, the one before, and
 * while recovering those of the lost connection. */
static bool known_nonce(const rp_client *c, uint64_t nonce)
{
    return nonce != 0 && (nonce == c->nonce || nonce == c->old_nonce ||
                          (c->recovering && (nonce == c->resume[0] || nonce == c->resume[1])));
}

/* The server closes (HelloExt bye with a nonce of ours): it is gone for
 * good, there is nothing to recover. */
static void on_bye(rp_client *c, const rp_frame *f)
{
    if (!known_nonce(c, f->nonce)) {
        rp_count(&c->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    fail(c, RUPHIN_ERR_PEER_LOST, &c->server);
}

/* A HelloExt carrying our nonce proves the server from whatever address it
 * comes (its NAT may map it to another port for us, or it is on our LAN).
 * From the server's announced address any nonce proves what a generation-0
 * hello from there proves (on_server_frame): the announcement of our latest
 * re-join reached the server but not us, so its hellos carry a nonce we were
 * never told, and its scan of our ports may be all that reaches us. */
static void on_hello_ext(rp_client *c, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    bool ours = known_nonce(c, f->nonce) || rp_addr_same(from, &c->server);
    if (f->flags == RP_HELLO_EXT_BYE) {
        on_bye(c, f);
        return;
    }
    if (!ours || c->nonce == 0) {
        rp_count(&c->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (c->state == RUPHIN_STATE_CONNECTED && !rp_addr_same(from, &c->server))
        return; /* another path to the server: keep the first */
    if (f->flags == RP_HELLO_EXT_REQ)
        send_hello_ext(c, from, RP_HELLO_EXT_RESP, f->nonce); /* the one the server knows */
    c->server = *from;
    if (c->state == RUPHIN_STATE_PUNCHING || c->state == RUPHIN_STATE_RELAYED)
        become_connected(c, now);
    heard(c, now);
}

/* A late answer to our JoinExt, after the generation-0 one connected us
 * (a session id too long for the join probe): nothing changes, but its
 * nonce and what it says of the server are kept, so that a lost path can
 * be recovered (the server got the same nonce for us). */
static void learn_nonce(rp_client *c, const rp_frame *f)
{
    if (f->type != RP_FRAME_PEER_INFO_EXT || !c->cfg.extensions || c->nonce != 0 ||
        f->nonce == 0 || !rp_addr_same(&f->peer, &c->server))
        return;
    c->nonce = f->nonce;
    c->server_ext = (f->flags & RP_PEER_SPEAKS_EXT) != 0;
}

static bool late_answer(const rp_frame *f)
{
    return f->type == RP_FRAME_PEER_INFO || f->type == RP_FRAME_PEER_INFO_EXT ||
           f->type == RP_FRAME_CAPABILITIES;
}

void rp_client_input(rp_client *c, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    bool joining = c->state == RUPHIN_STATE_JOINING || c->state == RUPHIN_STATE_PUNCHING;
    bool from_hp = rp_addr_same(from, &c->holepuncher);
    bool ext = c->cfg.extensions;

    c->last_now = now;
    if (joining && from_hp &&
        (f->type == RP_FRAME_PEER_INFO || (ext && f->type == RP_FRAME_PEER_INFO_EXT)))
        on_peer_info(c, now, f);
    else if (ext && joining && from_hp && f->type == RP_FRAME_CAPABILITIES)
        on_capabilities(c, f);
    else if (ext && (c->state == RUPHIN_STATE_PUNCHING || c->state == RUPHIN_STATE_CONNECTED ||
                     c->state == RUPHIN_STATE_RELAYED) &&
             f->type == RP_FRAME_HELLO_EXT)
        on_hello_ext(c, now, from, f);
    else if (ext && from_hp && f->type == RP_FRAME_RELAY &&
             (c->state == RUPHIN_STATE_PUNCHING || c->state == RUPHIN_STATE_RELAYED))
        on_relay(c, now, f);
    else if ((c->state == RUPHIN_STATE_CONNECTED || c->state == RUPHIN_STATE_RELAYED) && from_hp &&
             late_answer(f))
        learn_nonce(c, f); /* answers to our earlier requests, after we connected */
    else if (joining && from_hp && f->type == RP_FRAME_SESSION_NOT_FOUND && is_our_session(c, f))
        /* recovering: the server ended its session (or it expired) */
        fail(c, c->recovering ? RUPHIN_ERR_PEER_LOST : RUPHIN_ERR_SESSION_NOT_FOUND, from);
    else if (c->cfg.sealed && c->state == RUPHIN_STATE_CONNECTED &&
             rp_addr_same(from, &c->server) && f->type == RP_FRAME_SEALED)
        on_sealed(c, now, f);
    else if (!c->cfg.sealed && f->type == RP_FRAME_SEALED && rp_addr_same(from, &c->server) &&
             (c->state == RUPHIN_STATE_PUNCHING || c->state == RUPHIN_STATE_CONNECTED ||
              c->state == RUPHIN_STATE_RELAYED))
        fail(c, RUPHIN_ERR_AUTH, &c->server); /* the server seals; we have no key */
    else if ((c->state == RUPHIN_STATE_PUNCHING || c->state == RUPHIN_STATE_CONNECTED ||
              c->state == RUPHIN_STATE_RELAYED) &&
             rp_addr_same(from, &c->server) && is_server_frame(f))
        on_server_frame(c, now, f);
    else
        rp_count(&c->out, RUPHIN_STAT_RX_UNEXPECTED);
}

/* Whether to ask through the relay now: once relay_from passed and the
 * scan is over, however long a busy host (which ticks us late) made it take,
 * but in the last quarter of the handshake in any case. */
static bool relay_due(const rp_client *c, int64_t now)
{
    if (!c->relay_offered || now < c->relay_from)
        return false;
    return c->cfg.relay_rate > 0 || !rp_scan_running(&c->scan) ||
           now >= c->give_up - c->cfg.handshake_timeout_ms / 4;
}

static void tick_handshake(rp_client *c, int64_t now)
{
    if (rp_due(c->give_up, now)) {
        if (c->recovering)
            fail(c, RUPHIN_ERR_PEER_LOST, &c->server);
        else
            fail(c, RUPHIN_ERR_TIMEOUT, c->state == RUPHIN_STATE_PUNCHING ? &c->server
                                                                          : &c->holepuncher);
        return;
    }
    if (rp_due(c->join_retry.next, now)) {
        send_join(c);
        rp_retry_backoff(&c->join_retry, now, &c->cfg);
        /* Recovering, the server may come back any time (a router that
         * rebooted): its Joins back off less far. */
        if (c->recovering && c->join_retry.interval > rp_recovery_retry_max(&c->cfg)) {
            c->join_retry.interval = rp_recovery_retry_max(&c->cfg);
            c->join_retry.next = now + c->join_retry.interval;
        }
    }
    if (c->low_ttl && now >= c->low_ttl_until)
        c->low_ttl = false;
    if (c->state == RUPHIN_STATE_PUNCHING && rp_due(c->next_hello, now)) {
        send_hello(c, now, c->cfg.punch_interval_ms);
        if (relay_due(c, now))
            send_relay_hello(c); /* punching has not worked so far: ask through the relay */
    }
    if (c->state == RUPHIN_STATE_PUNCHING && rp_due(c->scan.next, now)) {
        uint8_t frame[32];
        rp_scan_tick(&c->scan, &c->out, now, frame,
                     rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_REQ, c->nonce));
    }
}

/* Whether a lost path would be looked for: a generation-1 server (which a
 * generation-1 holepuncher announced), the connection reported. */
static bool can_recover(const rp_client *c)
{
    return c->cfg.recovery_timeout_ms > 0 && c->cfg.extensions && speaks_ext(c) &&
           !awaiting_seal(c);
}

/* The path is lost: PATH_LOST, then the handshake again, naming the lost
 * connection (its nonces) so that the server takes the new path for it. The
 * host's own addresses may have changed too. */
static void start_recovery(rp_client *c, int64_t now)
{
    if (c->out.local_addresses != NULL) {
        ruphin_addr locals[RP_MAX_LOCALS];
        rp_client_set_locals(c, locals,
                             c->out.local_addresses(c->out.ctx, locals, RP_MAX_LOCALS));
    }
    c->recovering = true;
    c->reprobe = true; /* our address may have changed: our cookie with it */
    c->lost_at = c->server;
    c->resume[0] = c->nonce;
    c->resume[1] = c->old_nonce;
    c->state = RUPHIN_STATE_PUNCHING;
    c->give_up = now + c->cfg.recovery_timeout_ms;
    rp_watch_reset(&c->watch);
    /* The handshake's choices are made afresh from the new announcements. */
    c->relay_from = 0;
    c->relay_offered = c->low_ttl = c->scan_confirmed = false;
    c->low_ttl_until = 0;
    rp_scan_stop(&c->scan);
    c->scan.sent = 0;
    rp_emit(&c->out, RUPHIN_EVENT_PATH_LOST, 0, &c->server, NULL, 0);
    send_join(c);
    rp_retry_start(&c->join_retry, now, &c->cfg);
    send_hello(c, now, c->cfg.punch_interval_ms); /* the old path may come back too */
}

/* A probe of the path: the keepalive's frame, at once. */
static void send_probe(rp_client *c)
{
    if (c->state == RUPHIN_STATE_RELAYED)
        send_relay_hello(c);
    else
        send_hello_ext(c, &c->server, RP_HELLO_EXT_REQ, c->nonce);
}

static void tick_connected(rp_client *c, int64_t now)
{
    if (can_recover(c)) {
        rp_watch_action a = rp_watch_tick(&c->watch, &c->cfg, c->last_heard, now);
        if (a == RP_WATCH_LOST) {
            start_recovery(c, now);
            return;
        }
        if (a == RP_WATCH_PROBE)
            send_probe(c);
    } else if (now - c->last_heard >= rp_config_silence_limit(&c->cfg)) {
        fail(c, RUPHIN_ERR_PEER_LOST, &c->server);
        return;
    }
    if (awaiting_seal(c) && rp_due(c->give_up, now)) {
        fail(c, RUPHIN_ERR_AUTH, &c->server);
        return;
    }
    if (awaiting_seal(c) && rp_due(c->next_seal_hello, now))
        send_seal_hello(c, now, 0);
    if (rp_due(c->next_hello, now)) {
        if (c->state == RUPHIN_STATE_RELAYED) {
            send_relay_hello(c);
            c->next_hello = now + c->cfg.keepalive_ms;
        } else {
            send_hello(c, now, c->cfg.keepalive_ms);
        }
    }
}

void rp_client_tick(rp_client *c, int64_t now)
{
    c->last_now = now;
    if (c->state == RUPHIN_STATE_JOINING || c->state == RUPHIN_STATE_PUNCHING)
        tick_handshake(c, now);
    else if (c->state == RUPHIN_STATE_CONNECTED || c->state == RUPHIN_STATE_RELAYED)
        tick_connected(c, now);
}

/* Sealed Data, written after room for a Relay frame's header and nonce. */
static int send_sealed_data(rp_client *c, const uint8_t *data, size_t len, uint8_t *buf,
                            size_t cap)
{
    size_t off = RP_HEADER_LEN + 8, sealed;
    if (!rp_seal_ready(&c->seal) ||
        (c->state != RUPHIN_STATE_CONNECTED && c->state != RUPHIN_STATE_RELAYED))
        return RUPHIN_ERR_NOT_CONNECTED;
    sealed = cap > off ? rp_seal_data(c->cfg.seal_key, &c->seal, data, len, buf + off, cap - off)
                       : 0;
    if (sealed == 0)
        return RUPHIN_ERR_TOO_LARGE;
    return send_to_server(c, buf, off, sealed, cap);
}

int rp_client_send_data(rp_client *c, const uint8_t *data, size_t len, uint8_t *buf, size_t cap)
{
    if (c->recovering) { /* the path is lost: nowhere to send it */
        rp_count(&c->out, RUPHIN_STAT_TX_DROPPED);
        return RUPHIN_OK;
    }
    if (c->state == RUPHIN_STATE_CONNECTED || c->state == RUPHIN_STATE_RELAYED)
        rp_watch_sent(&c->watch, c->last_now);
    if (c->cfg.sealed)
        return send_sealed_data(c, data, len, buf, cap);
    if (c->state == RUPHIN_STATE_RELAYED)
        return send_relay(c, data, len, buf, cap);
    return send_direct(c, buf, rp_wire_encode_data(buf, cap, data, len));
}

int64_t rp_client_deadline(const rp_client *c)
{
    int64_t d;
    if (c->state == RUPHIN_STATE_CONNECTED || c->state == RUPHIN_STATE_RELAYED) {
        d = rp_earliest(c->next_hello,
                        can_recover(c) ? rp_watch_deadline(&c->watch, &c->cfg, c->last_heard)
                                       : c->last_heard + rp_config_silence_limit(&c->cfg));
        return awaiting_seal(c) ? rp_earliest(d, rp_earliest(c->give_up, c->next_seal_hello)) : d;
    }
    if (c->state != RUPHIN_STATE_JOINING && c->state != RUPHIN_STATE_PUNCHING)
        return RUPHIN_NO_DEADLINE;
    d = rp_earliest(c->give_up, c->join_retry.next);
    if (c->state == RUPHIN_STATE_PUNCHING)
        d = rp_earliest(rp_earliest(d, c->next_hello), c->scan.next);
    return d;
}

int32_t rp_client_public_state(const rp_client *c)
{
    if (c->recovering)
        return RUPHIN_STATE_RECOVERING;
    /* A sealed client is not connected before the server proved the key. */
    if ((c->state == RUPHIN_STATE_CONNECTED || c->state == RUPHIN_STATE_RELAYED) &&
        awaiting_seal(c))
        return RUPHIN_STATE_PUNCHING;
    return c->state;
}

void rp_client_stop(rp_client *c)
{
    uint8_t frame[32];
    if (!speaks_ext(c) || !c->cfg.extensions ||
        (c->state != RUPHIN_STATE_CONNECTED && !c->recovering))
        return;
    rp_send_frame(&c->out, &c->server, frame,
                  rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_BYE, c->nonce));
}
