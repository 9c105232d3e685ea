/*
 * The server peer's state machine: registers its session id with the
 * holepuncher and keeps it alive, punches toward every client the
 * holepuncher announces, and accepts Data only from clients that completed
 * the hello handshake (unless configured otherwise).
 *
 * A client is connected once the holepuncher announced it AND it said hello
 * (HelloReq or HelloResp) from that address. Either may come first: a client
 * often gets its PeerInfo first and says hello before ours arrives.
 *
 * Path recovery (generation 1): a connected client that goes silent is
 * probed (rp_watch) and, unanswered, lost (PATH_LOST): Data to it is dropped
 * while it finds its way back. Its resumed join (PeerInfoExt with
 * RP_RESUMES, naming its connection's nonces) tells where it is now, and we
 * punch there; the first hello proving its nonce restores it there
 * (PATH_RESTORED). RECOVERY_TIMEOUT_MS later without one it is forgotten
 * (DISCONNECTED).
 */
#include "roles.h"
#include "addr.h"

#include <string.h>

int rp_server_init(rp_server *s, const rp_config *cfg, const rp_output *out,
                   const ruphin_addr *holepuncher, const uint8_t *id, size_t id_len)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->out = *out;
    s->holepuncher = *holepuncher;
    if (id_len > 0)
        memcpy(s->session_id, id, id_len);
    s->session_id_len = id_len;
    s->state = RUPHIN_STATE_IDLE;
    s->give_up = s->next_refresh = RUPHIN_NO_DEADLINE;
    s->peers_deadline = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&s->register_retry);
    rp_retry_stop(&s->reprobe);
    if (cfg->sealed)
        rp_seal_session_key(cfg->seal_key, id, id_len, s->cfg.seal_key);
    return rp_peers_init(&s->peers);
}

void rp_server_free(rp_server *s)
{
    rp_peers_free(&s->peers);
}

static bool reported_connected(const rp_server *s, const rp_peer *p);

void rp_server_stop(rp_server *s)
{
    uint8_t frame[RP_HEADER_LEN + 1 + RUPHIN_MAX_SESSION_ID + 8];
    uint32_t i;
    if (s->state == RUPHIN_STATE_FAILED)
        return;
    /* Our generation-1 clients need not look for us: we are gone. */
    for (i = 0; s->cfg.extensions && i < s->peers.count; i++) {
        const rp_peer *p = &s->peers.items[i];
        if (p->ext && !p->relayed && reported_connected(s, p))
            rp_send_frame(&s->out, &p->addr, frame,
                          rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_BYE,
                                                   p->nonce));
    }
    if (s->token == 0)
        return;
    rp_send_frame(&s->out, &s->holepuncher, frame,
                  rp_wire_encode_unregister(frame, sizeof frame, s->session_id,
                                            s->session_id_len, s->token));
    s->token = 0;
}

void rp_server_set_locals(rp_server *s, const ruphin_addr *locals, size_t count)
{
    size_t i;
    s->local_count = 0;
    for (i = 0; i < count && i < RP_MAX_LOCALS; i++)
        s->locals[s->local_count++] = locals[i];
}

/* Register, or RegisterExt once the holepuncher showed it speaks generation
 * 1; until it did, the probe goes along (it or its answer may be lost). */
static void send_register(rp_server *s)
{
    uint8_t frame[64];
    size_t len;
    if (!s->hp_ext) {
        if (s->cfg.extensions)
            rp_send_probe(&s->out, &s->holepuncher);
        rp_send_session(&s->out, &s->holepuncher, RP_FRAME_REGISTER, s->session_id,
                        s->session_id_len);
        return;
    }
    if (s->cookie != 0)
        len = rp_wire_encode_register_proof(frame, sizeof frame, s->session_id, s->session_id_len,
                                            s->locals, s->local_count, s->token, s->cookie);
    else
        len = rp_wire_encode_session_ext(frame, sizeof frame, RP_FRAME_REGISTER_EXT,
                                         s->session_id, s->session_id_len, s->locals,
                                         s->local_count, 0);
    rp_send_frame(&s->out, &s->holepuncher, frame, len);
}

void rp_server_start(rp_server *s, int64_t now)
{
    s->state = RUPHIN_STATE_REGISTERING;
    s->give_up = now + s->cfg.handshake_timeout_ms;
    rp_retry_start(&s->register_retry, now, &s->cfg);
    if (s->cfg.extensions) {
        /* Ask first, register once the answer came (or the first retransmit
         * time passed: an original holepuncher never answers). Registering
         * the old way first would let a client that joins meanwhile miss
         * generation 1, which it needs against NATs that remap ports. */
        rp_send_probe(&s->out, &s->holepuncher);
        return;
    }
    send_register(s);
}

/* The holepuncher speaks generation 1: register that way from now on, at
 * once, so that it knows before a client joins. */
static void on_capabilities(rp_server *s, int64_t now, const rp_frame *f)
{
    if (s->hp_ext)
        return;
    s->hp_ext = true;
    s->cookie = f->cookie;
    rp_retry_stop(&s->reprobe);
    send_register(s);
    /* Retransmitted until answered, also when a plain Register of ours was
     * acked meanwhile (Capabilities came late): until the claim is, the
     * session is unproven, and a strict holepuncher refuses its joins. */
    rp_retry_start(&s->register_retry, now, &s->cfg);
}

static void fail(rp_server *s, int32_t error)
{
    s->state = RUPHIN_STATE_FAILED;
    rp_retry_stop(&s->register_retry);
    rp_emit(&s->out, RUPHIN_EVENT_FAILED, error, &s->holepuncher, NULL, 0);
}

static bool is_our_session(const rp_server *s, const rp_frame *f)
{
    return f->session_id_len == s->session_id_len &&
           memcmp(f->session_id, s->session_id, s->session_id_len) == 0;
}

static void on_register_ack(rp_server *s, int64_t now, const rp_frame *f)
{
    if (!is_our_session(s, f)) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    s->last_ack = now;
    /* Once we claim (we have a cookie), only RegisterAckExt answers that
     * claim; a plain RegisterAck answers an earlier plain Register. */
    if (f->type != RP_FRAME_REGISTER_ACK || s->cookie == 0)
        rp_retry_stop(&s->register_retry);
    /* Registered the original way, but the probe or its answer may have
     * been lost, twice: until we claim our session, a strict holepuncher
     * refuses its joins. Probe a few more times before the first refresh. */
    if (s->cfg.extensions && !s->hp_ext && !s->reprobed) {
        s->reprobed = true;
        rp_retry_start(&s->reprobe, now, &s->cfg);
    }
    if (s->state == RUPHIN_STATE_REGISTERING) {
        s->state = RUPHIN_STATE_REGISTERED;
        s->give_up = RUPHIN_NO_DEADLINE;
        s->next_refresh = now + s->cfg.keepalive_ms;
        rp_emit(&s->out, RUPHIN_EVENT_REGISTERED, 0, &s->holepuncher, s->session_id,
                s->session_id_len);
    }
}

/* RegisterAckExt: our token and a fresh cookie. A token other than the one
 * we sent means the holepuncher saw us from a new address (our NAT rebound:
 * the session moved here) or we had lost it: claim again at once with the
 * new one, which also proves the new address; the answer to that is the ack. */
static void on_register_ack_ext(rp_server *s, int64_t now, const rp_frame *f)
{
    uint64_t sent = s->token;
    if (!is_our_session(s, f) || s->cookie == 0) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    s->token = f->token;
    s->cookie = f->cookie;
    if (sent != 0 && f->token != sent) {
        /* Our address changed: maybe the host's own too (new local ones). */
        if (s->out.local_addresses != NULL) {
            ruphin_addr locals[RP_MAX_LOCALS];
            rp_server_set_locals(s, locals,
                                 s->out.local_addresses(s->out.ctx, locals, RP_MAX_LOCALS));
        }
        send_register(s);
    } else
        on_register_ack(s, now, f);
}

static void schedule_peer(rp_server *s, int64_t when)
{
    s->peers_deadline = rp_earliest(s->peers_deadline, when);
}

/* ---- sealed sessions: a client proves the key before CONNECTED (seal.h) ---- */

static bool awaiting_seal(const rp_server *s, const rp_peer *p)
{
    return s->cfg.sealed && !rp_seal_ready(&p->seal);
}

/* Connected, and reported so: sealed sessions wait for the seal. */
static bool reported_connected(const rp_server *s, const rp_peer *p)
{
    return p->state == RP_PEER_CONNECTED && !awaiting_seal(s, p);
}

/* A frame for a client, written at buf + off: directly, or inside a Relay
 * frame (which has room before it) when the client is relayed. */
static int send_to_peer(rp_server *s, const rp_peer *p, uint8_t *buf, size_t off, size_t len,
                        size_t cap)
{
    if (!p->relayed)
        return rp_send_frame(&s->out, &p->addr, buf + off, len);
    return rp_send_frame(&s->out, &s->holepuncher, buf,
                         rp_wire_encode_relay(buf, cap, p->relay_nonce, buf + off, len));
}

static void send_seal_hello(rp_server *s, int64_t now, rp_peer *p, uint64_t echo)
{
    uint8_t buf[2 * RP_HEADER_LEN + 8 + RP_SEAL_OVERHEAD];
    size_t off = RP_HEADER_LEN + 8;
    size_t len = rp_seal_hello(s->cfg.seal_key, &p->seal, echo, buf + off, sizeof buf - off);
    send_to_peer(s, p, buf, off, len, sizeof buf);
    p->next_seal_hello = now + s->cfg.punch_interval_ms;
    schedule_peer(s, p->next_seal_hello);
}

static void report_path(rp_server *s, const rp_peer *p)
{
    rp_emit(&s->out, p->relayed ? RUPHIN_EVENT_RELAYED : RUPHIN_EVENT_CONNECTED, 0, &p->addr,
            NULL, 0);
}

/* The client has a path: report it, or (sealed) first have it prove the key. */
static void report_or_seal(rp_server *s, int64_t now, rp_peer *p)
{
    if (!awaiting_seal(s, p)) {
        report_path(s, p);
        return;
    }
    rp_seal_start(&p->seal, s->out.random(s->out.ctx));
    p->give_up = now + s->cfg.handshake_timeout_ms;
    schedule_peer(s, p->give_up);
    send_seal_hello(s, now, p, 0);
}

/* A connected client was heard again on its path: it knows it is connected. */
static void heard(rp_peer *p, int64_t now)
{
    p->last_heard = now;
    p->confirms = 0;
    rp_watch_reset(&p->watch);
}

/* A client that cannot prove the key (it has another, or none) is given up
 * at once, as the handshake timeout would later: PUNCH_FAILED with
 * RUPHIN_ERR_AUTH (tick_peer). It may not have seen enough of our
 * SealHellos to know yet, and sees no more after this: a last few tell it
 * (rp_seal_keys_differ), instead of leaving it to its handshake timeout. */
static void give_up_on_seal(rp_server *s, int64_t now, rp_peer *p)
{
    int i;
    for (i = 0; i < RP_SEAL_KEYS_DIFFER; i++)
        send_seal_hello(s, now, p, 0);
    p->give_up = now;
    schedule_peer(s, now);
}

static void on_sealed(rp_server *s, int64_t now, rp_peer *p, const rp_frame *f)
{
    bool was_ready = rp_seal_ready(&p->seal);
    const uint8_t *plain;
    size_t len;
    uint64_t echo;
    switch (rp_seal_open(s->cfg.seal_key, &p->seal, f, &echo, &plain, &len)) {
    case RP_SEAL_REJECTED:
        rp_count(&s->out, RUPHIN_STAT_RX_REJECTED);
        if (rp_seal_keys_differ(&p->seal))
            give_up_on_seal(s, now, p); /* the client seals under another key */
        return;
    case RP_SEAL_HELLO_STALE:
    case RP_SEAL_HELLO_FRESH:
        send_seal_hello(s, now, p, echo);
        break;
    case RP_SEAL_HELLO_KNOWN:
        break;
    case RP_SEAL_OPENED:
        rp_emit(&s->out, RUPHIN_EVENT_DATA, 0, &p->addr, plain, len);
        break;
    }
    heard(p, now);
    if (!was_ready && rp_seal_ready(&p->seal))
        report_path(s, p);
}

/* Plain Data on a sealed session: dropped; from a client that has not
 * proven the key yet, it shows that it has none. */
static void refuse_plain_data(rp_server *s, int64_t now, rp_peer *p)
{
    rp_count(&s->out, RUPHIN_STAT_RX_REJECTED);
    if (p != NULL && p->state == RP_PEER_CONNECTED && awaiting_seal(s, p))
        give_up_on_seal(s, now, p);
}

/* Relayed Data of a client: plain, or (sealed sessions) a Sealed frame. */
static void on_relayed_data(rp_server *s, int64_t now, rp_peer *p, const rp_frame *f)
{
    rp_frame inner;
    if (!s->cfg.sealed)
        rp_emit(&s->out, RUPHIN_EVENT_DATA, 0, &p->addr, f->payload, f->payload_len);
    else if (rp_wire_decode(f->payload, f->payload_len, &inner) == RP_WIRE_OK &&
             inner.type == RP_FRAME_SEALED)
        on_sealed(s, now, p, &inner);
    else
        refuse_plain_data(s, now, p);
}

static void on_direct_sealed(rp_server *s, int64_t now, const ruphin_addr *from,
                             const rp_frame *f)
{
    rp_peer *p = rp_peers_find(&s->peers, from);
    if (p == NULL || p->state != RP_PEER_CONNECTED || p->relayed) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    on_sealed(s, now, p, f);
}

/* Ends a peer's scan, and frees the scanning slot if it held it. */
static void stop_scan(rp_server *s, rp_peer *p)
{
    rp_scan_stop(&p->scan);
    if (s->scanning == p->nonce)
        s->scanning = 0;
}

/* Connects a client on the path its hello came by. A generation-1 client
 * gets hellos until it is heard again: the one hello that connected it may
 * be all that got through (a probe of its scan of our ports, when our NAT
 * moved us to another port), and if our answer to it is lost, nothing else
 * tells it where we are. */
static void connect_peer(rp_server *s, int64_t now, rp_peer *p)
{
    bool sealing = p->state == RP_PEER_CONNECTED && awaiting_seal(s, p);
    stop_scan(s, p);
    p->state = RP_PEER_CONNECTED;
    p->relayed = false;
    p->last_heard = now;
    rp_watch_reset(&p->watch);
    if (p->conn_nonce == 0)
        p->conn_nonce = p->nonce;
    p->confirms = p->ext ? RP_CONFIRM_HELLOS : 0;
    p->next_hello = now + s->cfg.punch_interval_ms;
    schedule_peer(s, p->next_hello);
    if (sealing)
        send_seal_hello(s, now, p, 0); /* on the new path; the old attempt goes on */
    else
        report_or_seal(s, now, p);
}

/* Finds or adds a peer; NULL when the table is full (counted). *created
 * tells whether it is new. */
static rp_peer *track_peer(rp_server *s, int64_t now, const ruphin_addr *addr,
                           rp_peer_state state, bool *created)
{
    rp_peer *p = rp_peers_find(&s->peers, addr);
    *created = p == NULL;
    if (p != NULL)
        return p;
    if (s->peers.count >= (uint32_t)s->cfg.max_peers ||
        (p = rp_peers_add(&s->peers, addr)) == NULL) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return NULL;
    }
    p->state = state;
    rp_scan_stop(&p->scan);
    rp_watch_reset(&p->watch);
    p->give_up = now + s->cfg.handshake_timeout_ms;
    p->next_hello = now;
    schedule_peer(s, now);
    return p;
}

/* Whether a nonce is the peer's, from its latest join or the one before. */
static bool nonce_of(const rp_peer *p, uint64_t nonce)
{
    return nonce != 0 && (p->nonce == nonce || p->old_nonce == nonce);
}

/* A generation-1 peer by the nonce of its join. */
static rp_peer *find_by_nonce(const rp_server *s, uint64_t nonce)
{
    uint32_t i;
    for (i = 0; nonce != 0 && i < s->peers.count; i++)
        if (nonce_of(&s->peers.items[i], nonce))
            return &s->peers.items[i];
    return NULL;
}

/* The frame that punches toward a peer: HelloReq, or with generation 1 a
 * HelloExt with its join's nonce. */
static size_t punch_frame(const rp_peer *p, uint8_t *frame, size_t cap)
{
    if (!p->ext)
        return rp_wire_encode_empty(frame, cap, RP_FRAME_HELLO_REQ);
    return rp_wire_encode_hello_ext(frame, cap, RP_HELLO_EXT_REQ, p->nonce);
}

/* Whether the peer's announced public address is one of its own (no NAT). */
static bool without_nat(const rp_peer *p)
{
    uint8_t i;
    for (i = 0; i < p->local_count; i++)
        if (rp_addr_same(&p->locals[i], &p->addr))
            return true;
    return false;
}

/* Whether the peer's NAT kept its port: then its port is the one the
 * holepuncher saw, for us too, and a scan of its ports is no use. Not
 * known without local addresses. */
static bool port_kept(const rp_peer *p)
{
    uint8_t i;
    for (i = 0; i < p->local_count; i++)
        if (p->locals[i].port == p->addr.port)
            return true;
    return false;
}

/* Punches to a client's public address have a low TTL: they open our NAT
 * for the client's hello (which the client sends as soon as it hears of
 * us) but die before its router. A punch that reached that router before
 * the client's own first packet left could make a Linux router that takes
 * such packets in map the client's packets to another port (the conntrack
 * clash, docs/NAT.md), for as long as we keep punching. Only a client
 * without NAT gets full punches (a symmetric NAT of ours needs them to
 * reach it), and a generation-0 client after the first five (an original
 * client stops punching early and needs ours to get through; our own
 * clients join the generation-0 way first, and when their generation-1
 * announcement is lost, the next comes with a re-join 250 ms later).
 * Once we probe the client's ports, our punches are full too: the client
 * whose NAT changed its port sends its hellos with a low TTL then
 * (client.c), which opened its NAT long before, and its NAT may map it to
 * the announced port for us as well, which the scan leaves out. */
static int punch_ttl(const rp_peer *p)
{
    if (p->ext)
        return without_nat(p) || p->scan.sent > 0 ? 0 : RP_LOW_TTL;
    return p->punches >= RP_LOW_TTL_PUNCHES ? 0 : RP_LOW_TTL;
}

/* One round of punching: to the peer's public address (to: the one its
 * latest announcement gave, once it lost its path) and, with generation 1,
 * each of its local addresses. */
static void punch_to(rp_server *s, int64_t now, rp_peer *p, const ruphin_addr *to)
{
    uint8_t frame[32];
    size_t len = punch_frame(p, frame, sizeof frame), i;
    int ttl = punch_ttl(p);
    p->next_hello = now + s->cfg.punch_interval_ms;
    if (ttl == 0)
        rp_send_frame(&s->out, to, frame, len);
    else
        rp_send_frame_ttl(&s->out, to, frame, len, ttl);
    if (p->punches < RP_LOW_TTL_PUNCHES)
        p->punches++;
    for (i = 0; i < p->local_count; i++)
        rp_send_frame(&s->out, &p->locals[i], frame, len);
}

static void punch(rp_server *s, int64_t now, rp_peer *p)
{
    punch_to(s, now, p, &p->addr);
}

/* Probes the ports of a peer's public address once plain punching had its
 * chance (rp_scan, docs/NAT.md), when its NAT did not keep its port (a
 * full-cone NAT, which keeps ports, would forward every probe to the client,
 * and it would take the probe's path for ours), and only when the
 * holepuncher offered the relay for it: it relays only between addresses
 * proven by cookies, and a join from a forged address must never have us
 * probe that address's owner. One peer at a time, so that a server's
 * probing stays bounded however many clients fail to punch; a scan that
 * found nobody keeps the next one waiting RP_SCAN_QUIET_MS. */
static void scan_peer(rp_server *s, int64_t now, rp_peer *p)
{
    uint8_t frame[32];
    if (s->scanning != 0 && s->scanning != p->nonce) {
        p->scan.next = now + s->cfg.punch_interval_ms; /* wait for the slot */
        return;
    }
    if (s->scanning == 0 && now < s->scan_quiet_until) {
        p->scan.next = s->scan_quiet_until;
        return;
    }
    s->scanning = p->nonce;
    rp_scan_tick(&p->scan, &s->out, now, frame, punch_frame(p, frame, sizeof frame));
    if (!rp_scan_running(&p->scan)) { /* every pass done, no answer */
        s->scanning = 0;
        s->scan_quiet_until = now + RP_SCAN_QUIET_MS;
    }
}

static bool usable_peer_addr(const ruphin_addr *a)
{
    return a->port != 0 && !rp_addr_is_any(a);
}

/* Moves a peer to the address its hellos actually come from (a symmetric
 * NAT, or a LAN address); its nonce proved who it is. */
static rp_peer *adopt_address(rp_server *s, rp_peer *p, const ruphin_addr *from)
{
    rp_peer copy = *p;
    rp_peers_remove(&s->peers, p);
    p = rp_peers_add(&s->peers, from); /* cannot fail: a slot was just freed */
    copy.addr = *from;
    *p = copy;
    return p;
}

/* ---- path recovery ---- */

/* Whether a lost path to this client would be looked for: a generation-1
 * client, connected (directly or through the relay) and reported so. */
static bool can_recover(const rp_server *s, const rp_peer *p)
{
    return s->cfg.recovery_timeout_ms > 0 && p->ext && reported_connected(s, p);
}

/* Asks the holepuncher now whether our session is where we are: when our
 * clients go silent, our own NAT may have moved us (the ack then brings a
 * new token, and we claim the session from here at once). */
static void check_registration(rp_server *s, int64_t now)
{
    if (s->state != RUPHIN_STATE_REGISTERED || s->register_retry.next != RUPHIN_NO_DEADLINE)
        return;
    send_register(s);
    rp_retry_start(&s->register_retry, now, &s->cfg);
}

/* The client's path is lost: PATH_LOST; Data to it is dropped from now on.
 * Probed at its address once a gap until its resumed join says where it is. */
static void path_lost(rp_server *s, int64_t now, rp_peer *p)
{
    p->lost = true;
    p->give_up = now + s->cfg.recovery_timeout_ms;
    p->cand.family = 0;
    p->confirms = 0;
    p->next_hello = now + rp_probe_gap(&s->cfg);
    rp_watch_reset(&p->watch);
    schedule_peer(s, p->next_hello);
    rp_emit(&s->out, RUPHIN_EVENT_PATH_LOST, 0, &p->addr, NULL, 0);
    check_registration(s, now);
}

/* A lost client proved itself from `from` (its nonce): the path works
 * again, there. Returns where the peer is now. */
static rp_peer *restore_peer(rp_server *s, int64_t now, rp_peer *p, const ruphin_addr *from,
                             uint64_t nonce)
{
    ruphin_addr before = p->addr;
    bool moved = !rp_addr_same(&before, from);
    if (moved)
        p = adopt_address(s, p, from);
    p->lost = false;
    p->cand.family = 0;
    p->give_up = RUPHIN_NO_DEADLINE;
    heard(p, now);
    if (nonce != 0)
        p->conn_nonce = nonce;
    /* As on connecting: hellos until it is heard again on this path. */
    p->confirms = RP_CONFIRM_HELLOS;
    p->next_hello = now + s->cfg.punch_interval_ms;
    schedule_peer(s, p->next_hello);
    rp_emit(&s->out, RUPHIN_EVENT_PATH_RESTORED, 0, &p->addr,
            moved ? (const uint8_t *)&before : NULL, moved ? sizeof before : 0);
    return p;
}

/* Which of a resumed join's nonces names this client's connection: its
 * own, or the one before, or the one its hellos carried; 0: neither. */
static uint64_t resumed_nonce(const rp_peer *p, const uint64_t resume[2])
{
    int i;
    for (i = 0; i < 2; i++)
        if (resume[i] != 0 && (p->nonce == resume[i] || p->old_nonce == resume[i] ||
                               p->conn_nonce == resume[i]))
            return resume[i];
    return 0;
}

static rp_peer *find_resumed(const rp_server *s, const uint64_t resume[2])
{
    uint32_t i;
    for (i = 0; i < s->peers.count; i++) {
        rp_peer *p = &s->peers.items[i];
        if (p->state == RP_PEER_CONNECTED && p->ext && resumed_nonce(p, resume) != 0)
            return p;
    }
    return NULL;
}

/* A client not yet announced that said hello with this nonce. */
static rp_peer *find_heard(const rp_server *s, uint64_t nonce)
{
    uint32_t i;
    for (i = 0; i < s->peers.count; i++)
        if (s->peers.items[i].state == RP_PEER_HEARD && s->peers.items[i].nonce == nonce)
            return &s->peers.items[i];
    return NULL;
}

/* An announcement of a resumed join that comes after the path was found
 * again (it was on its way, or answers a Join that was): the client is
 * proven where it was announced, and heard just now. */
static bool late_resume(const rp_server *s, int64_t now, const rp_peer *p, const rp_frame *f)
{
    if (p->lost)
        return false;
    return nonce_of(p, f->nonce) ||
           (rp_addr_same(&p->addr, &f->peer) && now - p->last_heard < rp_probe_gap(&s->cfg));
}

/* The holepuncher announces a client that resumes its lost connection: the
 * same peer, found by that connection's nonces, with the new join's nonce,
 * at the address the join came from (its NAT may have moved it; or ours
 * moved us and it is where it was). Punched there; a hello that proves the
 * nonce restores it. */
static void resume_peer(rp_server *s, int64_t now, rp_peer *p, const rp_frame *f)
{
    rp_peer *h;
    uint8_t i;
    if (!p->lost)
        path_lost(s, now, p); /* it knows before we do */
    /* Later announcements of this recovery name it the same way. */
    p->conn_nonce = resumed_nonce(p, f->resume);
    if (p->nonce != f->nonce) {
        p->old_nonce = p->nonce;
        p->nonce = f->nonce;
    }
    p->relay_offered = (f->flags & RP_RELAY_OFFERED) != 0;
    p->local_count = 0;
    for (i = 0; i < f->local_count; i++)
        if (usable_peer_addr(&f->locals[i]) && f->locals[i].family == f->peer.family)
            p->locals[p->local_count++] = f->locals[i];
    p->cand = f->peer;
    p->cand_until = now + s->cfg.handshake_timeout_ms;
    /* Its hello may have come first (a server without NAT hears it at once). */
    h = find_heard(s, f->nonce);
    if (h != NULL) {
        uint8_t frame[32];
        ruphin_addr at = h->addr;
        rp_peers_remove(&s->peers, h); /* moves entries: find p again */
        p = restore_peer(s, now, find_by_nonce(s, f->nonce), &at, f->nonce);
        rp_send_frame(&s->out, &p->addr, frame, /* the answer its hello did not get */
                      rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_RESP, f->nonce));
        return;
    }
    punch_to(s, now, p, &p->cand);
    schedule_peer(s, p->next_hello);
}

/* PeerInfo (generation 0) or PeerInfoExt: the holepuncher announces a client. */
static void on_peer_info(rp_server *s, int64_t now, const rp_frame *f)
{
    bool ext = f->type == RP_FRAME_PEER_INFO_EXT, created = false;
    rp_peer *p = ext ? find_by_nonce(s, f->nonce) : NULL;
    uint8_t i;

    if (!usable_peer_addr(&f->peer) || (ext && f->nonce == 0)) { /* 0: no nonce */
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (ext && (f->flags & RP_RESUMES) && s->cfg.recovery_timeout_ms > 0) {
        rp_peer *r = find_resumed(s, f->resume);
        if (r != NULL && late_resume(s, now, r, f))
            return;
        if (r != NULL) {
            resume_peer(s, now, r, f);
            return;
        }
        /* Not one of ours (any more): a join like any other. */
    }
    if (p == NULL && (p = track_peer(s, now, &f->peer, RP_PEER_ANNOUNCED, &created)) == NULL)
        return;
    if (ext) {
        p->ext = (f->flags & RP_PEER_SPEAKS_EXT) != 0;
        p->relay_offered = (f->flags & RP_RELAY_OFFERED) != 0;
        if (p->nonce != f->nonce) { /* a re-join: same peer, new nonce */
            if (s->scanning == p->nonce && p->nonce != 0)
                s->scanning = f->nonce;
            p->old_nonce = p->nonce;
            p->nonce = f->nonce;
        }
        p->local_count = 0;
        for (i = 0; i < f->local_count; i++)
            if (usable_peer_addr(&f->locals[i]) && f->locals[i].family == f->peer.family)
                p->locals[p->local_count++] = f->locals[i];
    }
    if (p->state == RP_PEER_HEARD) {
        connect_peer(s, now, p);
        p->punches = RP_LOW_TTL_PUNCHES; /* its hello came through: no low TTL */
        punch(s, now, p);  /* the answer its early hello did not get */
    } else if (p->state == RP_PEER_ANNOUNCED) {
        if (created)
            rp_emit(&s->out, RUPHIN_EVENT_PEER_ANNOUNCED, 0, &p->addr, NULL, 0);
        /* The first announcement to offer the relay, which may be a later
         * one: a client's join probe is answered before its cookie proved it. */
        if (p->ext && p->relay_offered && p->scan.sent == 0 && !rp_scan_running(&p->scan) &&
            rp_scan_possible(&p->addr) && !port_kept(p))
            rp_scan_start(&p->scan, &p->addr, now + rp_scan_delay(&s->cfg));
        /* Punch now even when it was announced before: the client may have
         * re-joined because our earlier hellos got lost. */
        punch(s, now, p);
    }
}

static rp_peer *find_lost_by_conn_nonce(const rp_server *s, uint64_t nonce)
{
    uint32_t i;
    for (i = 0; nonce != 0 && i < s->peers.count; i++)
        if (s->peers.items[i].lost && s->peers.items[i].conn_nonce == nonce)
            return &s->peers.items[i];
    return NULL;
}

/* A client closes (HelloExt bye from its address, with its nonce): it is
 * gone for good, nothing to wait for. */
static void on_bye(rp_server *s, const ruphin_addr *from, const rp_frame *f)
{
    rp_peer *p = rp_peers_find(&s->peers, from);
    /* A client that lost its path says it from where it is now. */
    if (p == NULL || !p->lost) {
        rp_peer *q = find_by_nonce(s, f->nonce);
        if (q == NULL)
            q = find_lost_by_conn_nonce(s, f->nonce);
        if (q != NULL && q->lost)
            p = q;
    }
    if (p == NULL || p->state != RP_PEER_CONNECTED || f->nonce == 0 ||
        !(nonce_of(p, f->nonce) || p->conn_nonce == f->nonce)) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (reported_connected(s, p))
        rp_emit(&s->out, RUPHIN_EVENT_DISCONNECTED, 0, &p->addr, NULL, 0);
    stop_scan(s, p);
    rp_peers_remove(&s->peers, p);
}

/* A HelloExt from a client whose path was lost: a nonce of its proves it,
 * where it was or where it is now (not the address alone: anyone can send
 * from an address). */
static void on_lost_hello(rp_server *s, int64_t now, const ruphin_addr *from, const rp_frame *f,
                          rp_peer *p, rp_peer *at)
{
    uint8_t frame[32];
    if (!nonce_of(p, f->nonce) && !(p->conn_nonce == f->nonce && f->nonce != 0)) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (at != NULL && at != p) {
        if (at->state != RP_PEER_HEARD) { /* another client's address */
            rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
            return;
        }
        rp_peers_remove(&s->peers, at); /* an unproven hello from there: this client's */
        p = find_by_nonce(s, f->nonce);
        if (p == NULL) /* it proved itself by the nonce its hellos carried */
            p = find_lost_by_conn_nonce(s, f->nonce);
    }
    p = restore_peer(s, now, p, from, f->nonce);
    if (f->flags == RP_HELLO_EXT_REQ)
        rp_send_frame(&s->out, from, frame,
                      rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_RESP, f->nonce));
}

static void on_hello_ext(rp_server *s, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    rp_peer *at = rp_peers_find(&s->peers, from), *p;
    bool created;

    if (f->flags == RP_HELLO_EXT_BYE) {
        on_bye(s, from, f);
        return;
    }
    p = at != NULL && nonce_of(at, f->nonce) ? at : find_by_nonce(s, f->nonce);
    if (p == NULL)
        p = find_lost_by_conn_nonce(s, f->nonce);
    if (p != NULL && p->state == RP_PEER_CONNECTED && p->lost) {
        on_lost_hello(s, now, from, f, p, at);
        return;
    }
    if (at != NULL && at->state == RP_PEER_CONNECTED && at->lost) {
        on_lost_hello(s, now, from, f, at, at);
        return;
    }
    /* From an announced client's own address, with a nonce we were never
     * told (or heard only in unproven hellos from elsewhere): it re-joined
     * and its latest announcement to us was lost. The address proves what a
     * generation-0 hello from there proves (on_hello); our answer echoes its
     * nonce, which it takes. Ignored, a client that reaches us only through
     * its scan of our ports (the conntrack clash) would wait for its next
     * re-join, long after the scan. */
    if ((p == NULL || p->state == RP_PEER_HEARD) && at != NULL && at->state != RP_PEER_HEARD)
        p = at;
    if (p == NULL) {
        /* Before the announcement: remember it for the handshake window, but
         * do not answer yet (see on_hello). */
        p = track_peer(s, now, from, RP_PEER_HEARD, &created);
        if (p != NULL && created)
            p->nonce = f->nonce;
        return;
    }
    if (!rp_addr_same(&p->addr, from)) {
        /* A connected client speaking from another path (say our LAN punch
         * reached it before our public one): it uses the path it proves last,
         * so follow it there. */
        bool moving = reported_connected(s, p) && !p->relayed;
        if (at != NULL && at->state != RP_PEER_HEARD) { /* another client's address */
            rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
            return;
        }
        if (at != NULL) {
            /* Only an unproven hello from there so far, most likely this very
             * client's generation-0 punch: the nonce settles it. */
            rp_peers_remove(&s->peers, at); /* moves entries: find p again */
            p = find_by_nonce(s, f->nonce); /* its nonce, or the one before */
        }
        if (moving)
            rp_emit(&s->out, RUPHIN_EVENT_DISCONNECTED, 0, &p->addr, NULL, 0);
        p = adopt_address(s, p, from);
        if (moving)
            p->state = RP_PEER_ANNOUNCED; /* connected again below, at the new address */
    }
    if (p->state == RP_PEER_CONNECTED && !p->relayed) {
        heard(p, now);
        if (nonce_of(p, f->nonce))
            p->conn_nonce = f->nonce; /* what it knows its connection by */
    } else if (p->state == RP_PEER_ANNOUNCED || p->relayed) {
        connect_peer(s, now, p);
        if (nonce_of(p, f->nonce))
            p->conn_nonce = f->nonce;
    }
    if (f->flags == RP_HELLO_EXT_REQ && p->state == RP_PEER_CONNECTED) {
        uint8_t frame[32];
        size_t len = rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_RESP, f->nonce);
        rp_send_frame(&s->out, from, frame, len);
    }
}

/* A Relay frame from the holepuncher: a client that could not punch says
 * hello through it (answered the same way), or sends relayed data. */
static void on_relay(rp_server *s, int64_t now, const rp_frame *f)
{
    rp_peer *p = find_by_nonce(s, f->nonce);
    uint8_t frame[RP_HEADER_LEN + 8];
    if (p == NULL || !p->relay_offered || (f->payload_len > 0 && !p->relayed)) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    p->relay_nonce = f->nonce; /* the pair the client relays through (it may have re-joined) */
    if (p->state == RP_PEER_CONNECTED && p->lost) { /* it found the relay after a lost path */
        stop_scan(s, p);
        p->relayed = true;
        p = restore_peer(s, now, p, &p->addr, f->nonce);
        schedule_peer(s, now + rp_config_silence_limit(&s->cfg));
    } else if (p->state != RP_PEER_CONNECTED) {
        stop_scan(s, p);
        p->state = RP_PEER_CONNECTED;
        p->relayed = true;
        schedule_peer(s, now + rp_config_silence_limit(&s->cfg));
        report_or_seal(s, now, p);
    }
    heard(p, now);
    if (f->payload_len > 0) {
        on_relayed_data(s, now, p, f);
        return;
    }
    rp_send_frame(&s->out, &s->holepuncher, frame, /* in the pair the hello came through */
                  rp_wire_encode_relay(frame, sizeof frame, f->nonce, NULL, 0));
}

/* A hello (request or response) from a peer. */
static void on_hello(rp_server *s, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    rp_peer *p;
    bool created;
    p = track_peer(s, now, from, RP_PEER_HEARD, &created);
    if (p == NULL)
        return;
    if (p->state == RP_PEER_ANNOUNCED || p->relayed)
        connect_peer(s, now, p); /* (a relayed client found a direct path) */
    else if (p->state == RP_PEER_CONNECTED)
        heard(p, now);
    /* Not yet announced: no answer. The client would take it for "connected"
     * and send Data we cannot accept yet; our own punch answers it as soon
     * as the announcement arrives. */
    if (f->type == RP_FRAME_HELLO_REQ && p->state == RP_PEER_CONNECTED)
        rp_send_empty(&s->out, from, RP_FRAME_HELLO_RESP);
}

static void on_data(rp_server *s, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    rp_peer *p = rp_peers_find(&s->peers, from);
    if (s->cfg.sealed) {
        refuse_plain_data(s, now, p);
        return;
    }
    if (p != NULL && p->state == RP_PEER_CONNECTED)
        heard(p, now);
    else if (!s->cfg.accept_unverified) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    rp_emit(&s->out, RUPHIN_EVENT_DATA, 0, from, f->payload, f->payload_len);
}

static bool from_holepuncher(const rp_server *s, const ruphin_addr *from)
{
    return rp_addr_same(from, &s->holepuncher);
}

void rp_server_input(rp_server *s, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    s->last_now = now;
    if (s->state == RUPHIN_STATE_FAILED || s->state == RUPHIN_STATE_IDLE) {
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    if (f->type == RP_FRAME_REGISTER_ACK && from_holepuncher(s, from))
        on_register_ack(s, now, f);
    else if (s->cfg.extensions && f->type == RP_FRAME_REGISTER_ACK_EXT && from_holepuncher(s, from))
        on_register_ack_ext(s, now, f);
    else if (f->type == RP_FRAME_PEER_INFO && from_holepuncher(s, from))
        on_peer_info(s, now, f);
    else if (f->type == RP_FRAME_HELLO_REQ || f->type == RP_FRAME_HELLO_RESP)
        on_hello(s, now, from, f);
    else if (s->cfg.extensions && f->type == RP_FRAME_CAPABILITIES && from_holepuncher(s, from))
        on_capabilities(s, now, f);
    else if (s->cfg.extensions && f->type == RP_FRAME_PEER_INFO_EXT && from_holepuncher(s, from))
        on_peer_info(s, now, f);
    else if (s->cfg.extensions && f->type == RP_FRAME_HELLO_EXT)
        on_hello_ext(s, now, from, f);
    else if (s->cfg.extensions && f->type == RP_FRAME_RELAY && from_holepuncher(s, from))
        on_relay(s, now, f);
    else if (s->cfg.sealed && f->type == RP_FRAME_SEALED)
        on_direct_sealed(s, now, from, f);
    else if (f->type == RP_FRAME_DATA)
        on_data(s, now, from, f);
    else
        rp_count(&s->out, RUPHIN_STAT_RX_UNEXPECTED);
}

static void tick_registration(rp_server *s, int64_t now)
{
    if (s->state == RUPHIN_STATE_REGISTERING && rp_due(s->give_up, now)) {
        fail(s, RUPHIN_ERR_TIMEOUT);
        return;
    }
    if (s->state == RUPHIN_STATE_REGISTERED &&
        now - s->last_ack >= rp_config_silence_limit(&s->cfg)) {
        /* The holepuncher has forgotten us by now: register afresh, forever. */
        s->state = RUPHIN_STATE_REGISTERING;
        s->next_refresh = RUPHIN_NO_DEADLINE;
        rp_emit(&s->out, RUPHIN_EVENT_REGISTRATION_LOST, RUPHIN_ERR_TIMEOUT, &s->holepuncher,
                s->session_id, s->session_id_len);
        send_register(s);
        rp_retry_start(&s->register_retry, now, &s->cfg);
        return;
    }
    if (s->state == RUPHIN_STATE_REGISTERED && rp_due(s->next_refresh, now)) {
        send_register(s);
        s->next_refresh = now + s->cfg.keepalive_ms;
        rp_retry_start(&s->register_retry, now, &s->cfg);
        return;
    }
    if (rp_due(s->register_retry.next, now)) {
        send_register(s);
        rp_retry_backoff(&s->register_retry, now, &s->cfg);
    }
}

/* The probes after an original-way registration (on_register_ack), until
 * one goes at the longest interval. */
static void tick_reprobe(rp_server *s, int64_t now)
{
    if (!rp_due(s->reprobe.next, now))
        return;
    rp_send_probe(&s->out, &s->holepuncher);
    if (s->reprobe.interval >= s->cfg.retransmit_max_ms)
        rp_retry_stop(&s->reprobe);
    else
        rp_retry_backoff(&s->reprobe, now, &s->cfg);
}

/* Whether a connected client still gets confirming hellos (connect_peer). */
static bool confirming(const rp_peer *p)
{
    return p->confirms > 0 && !p->relayed;
}

/* A confirming hello, at full TTL: the client's own packet came from there,
 * so its NAT is open to us. */
static void confirm(rp_server *s, int64_t now, rp_peer *p)
{
    uint8_t frame[32];
    rp_send_frame(&s->out, &p->addr, frame, punch_frame(p, frame, sizeof frame));
    p->confirms--;
    p->next_hello = now + s->cfg.punch_interval_ms;
}

/* A probe of a client's path: a hello with its nonce, at full TTL (the path
 * was open). */
static void probe_peer(rp_server *s, rp_peer *p)
{
    uint8_t frame[32];
    if (p->relayed) /* a Relay hello (the client hears it; its keepalives answer) */
        rp_send_frame(&s->out, &s->holepuncher, frame,
                      rp_wire_encode_relay(frame, sizeof frame, p->relay_nonce, NULL, 0));
    else
        rp_send_frame(&s->out, &p->addr, frame,
                      rp_wire_encode_hello_ext(frame, sizeof frame, RP_HELLO_EXT_REQ, p->nonce));
}

/* A connected client's watch; false when its path was found lost now. */
static bool watch_peer(rp_server *s, int64_t now, rp_peer *p)
{
    switch (rp_watch_tick(&p->watch, &s->cfg, p->last_heard, now)) {
    case RP_WATCH_PROBE:
        probe_peer(s, p);
        return true;
    case RP_WATCH_LOST:
        path_lost(s, now, p);
        return false;
    default:
        return true;
    }
}

/* A lost client: punched where its resumed join came from, for a handshake
 * timeout after each such join; else probed where it was, once a gap (the
 * path may come back as it was: a router that rebooted and kept its ports). */
static void tick_lost(rp_server *s, int64_t now, rp_peer *p)
{
    if (!rp_due(p->next_hello, now))
        return;
    if (p->cand.family != 0 && now < p->cand_until) {
        punch_to(s, now, p, &p->cand);
        return;
    }
    probe_peer(s, p);
    p->next_hello = now + rp_probe_gap(&s->cfg);
}

/* Runs one peer's timers; returns false when the peer was removed. */
static bool tick_peer(rp_server *s, int64_t now, rp_peer *p)
{
    if (p->state == RP_PEER_CONNECTED && awaiting_seal(s, p)) {
        if (!rp_due(p->give_up, now)) {
            if (rp_due(p->next_seal_hello, now))
                send_seal_hello(s, now, p, 0);
            return true;
        }
        rp_emit(&s->out, RUPHIN_EVENT_PUNCH_FAILED, RUPHIN_ERR_AUTH, &p->addr, NULL, 0);
    } else if (p->state == RP_PEER_CONNECTED && p->lost) {
        if (!rp_due(p->give_up, now)) {
            tick_lost(s, now, p);
            return true;
        }
        rp_emit(&s->out, RUPHIN_EVENT_DISCONNECTED, RUPHIN_ERR_PEER_LOST, &p->addr, NULL, 0);
    } else if (p->state == RP_PEER_CONNECTED && can_recover(s, p)) {
        if (watch_peer(s, now, p) && confirming(p) && rp_due(p->next_hello, now))
            confirm(s, now, p);
        return true;
    } else if (p->state == RP_PEER_CONNECTED) {
        if (now - p->last_heard < rp_config_silence_limit(&s->cfg)) {
            if (confirming(p) && rp_due(p->next_hello, now))
                confirm(s, now, p);
            return true;
        }
        rp_emit(&s->out, RUPHIN_EVENT_DISCONNECTED, RUPHIN_ERR_PEER_LOST, &p->addr, NULL, 0);
    } else if (rp_due(p->give_up, now)) {
        if (p->state == RP_PEER_ANNOUNCED)
            rp_emit(&s->out, RUPHIN_EVENT_PUNCH_FAILED, RUPHIN_ERR_TIMEOUT, &p->addr, NULL, 0);
    } else {
        if (p->state == RP_PEER_ANNOUNCED && rp_due(p->next_hello, now))
            punch(s, now, p);
        if (p->state == RP_PEER_ANNOUNCED && rp_due(p->scan.next, now))
            scan_peer(s, now, p);
        return true;
    }
    if (s->scanning == p->nonce && p->nonce != 0) /* gave up in the middle of a scan */
        s->scan_quiet_until = now + RP_SCAN_QUIET_MS;
    stop_scan(s, p);
    rp_peers_remove(&s->peers, p);
    return false;
}

static int64_t peer_deadline(const rp_server *s, const rp_peer *p)
{
    if (p->state == RP_PEER_CONNECTED && awaiting_seal(s, p))
        return rp_earliest(p->give_up, p->next_seal_hello);
    if (p->state == RP_PEER_CONNECTED && p->lost)
        return rp_earliest(p->give_up, p->next_hello);
    if (p->state == RP_PEER_CONNECTED)
        return rp_earliest(can_recover(s, p)
                               ? rp_watch_deadline(&p->watch, &s->cfg, p->last_heard)
                               : p->last_heard + rp_config_silence_limit(&s->cfg),
                           confirming(p) ? p->next_hello : RUPHIN_NO_DEADLINE);
    if (p->state == RP_PEER_ANNOUNCED)
        return rp_earliest(rp_earliest(p->give_up, p->next_hello), p->scan.next);
    return p->give_up;
}

static void tick_peers(rp_server *s, int64_t now)
{
    uint32_t i = 0;
    if (!rp_due(s->peers_deadline, now))
        return;
    s->peers_deadline = RUPHIN_NO_DEADLINE;
    while (i < s->peers.count) {
        rp_peer *p = &s->peers.items[i];
        if (tick_peer(s, now, p)) {
            schedule_peer(s, peer_deadline(s, p));
            i++;
        }
    }
}

void rp_server_tick(rp_server *s, int64_t now)
{
    s->last_now = now;
    if (s->state == RUPHIN_STATE_FAILED || s->state == RUPHIN_STATE_IDLE)
        return;
    tick_reprobe(s, now);
    tick_registration(s, now);
    if (s->state != RUPHIN_STATE_FAILED)
        tick_peers(s, now);
}

int64_t rp_server_deadline(const rp_server *s)
{
    int64_t d;
    if (s->state == RUPHIN_STATE_FAILED || s->state == RUPHIN_STATE_IDLE)
        return RUPHIN_NO_DEADLINE;
    d = rp_earliest(s->give_up, s->register_retry.next);
    d = rp_earliest(d, rp_earliest(s->reprobe.next, s->next_refresh));
    if (s->state == RUPHIN_STATE_REGISTERED)
        d = rp_earliest(d, s->last_ack + rp_config_silence_limit(&s->cfg));
    return rp_earliest(d, s->peers_deadline);
}

int rp_server_can_send(const rp_server *s, const ruphin_addr *to)
{
    const rp_peer *p = rp_peers_find(&s->peers, to);
    if (p != NULL && reported_connected(s, p))
        return RUPHIN_OK;
    return RUPHIN_ERR_UNKNOWN_PEER;
}

int rp_server_send_data(rp_server *s, const ruphin_addr *to, const uint8_t *data, size_t len,
                        uint8_t *buf, size_t cap)
{
    rp_peer *p = rp_peers_find(&s->peers, to);
    size_t off = RP_HEADER_LEN + 8, sealed;
    if (p == NULL || !reported_connected(s, p))
        return RUPHIN_ERR_UNKNOWN_PEER;
    if (p->lost) { /* its path is lost: nowhere to send it */
        rp_count(&s->out, RUPHIN_STAT_TX_DROPPED);
        return RUPHIN_OK;
    }
    if (can_recover(s, p))
        rp_watch_sent(&p->watch, s->last_now);
    if (s->cfg.sealed) {
        sealed = cap > off ? rp_seal_data(s->cfg.seal_key, &p->seal, data, len, buf + off,
                                          cap - off)
                           : 0;
        return sealed ? send_to_peer(s, p, buf, off, sealed, cap) : RUPHIN_ERR_TOO_LARGE;
    }
    if (p->relayed)
        return rp_send_frame(&s->out, &s->holepuncher, buf,
                             rp_wire_encode_relay(buf, cap, p->relay_nonce, data, len));
    return rp_send_frame(&s->out, to, buf, rp_wire_encode_data(buf, cap, data, len));
}

uint32_t rp_server_connected_count(const rp_server *s)
{
    uint32_t i, n = 0;
    for (i = 0; i < s->peers.count; i++)
        n += reported_connected(s, &s->peers.items[i]) && !s->peers.items[i].lost;
    return n;
}
