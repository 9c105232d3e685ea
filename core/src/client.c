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
    c->give_up = c->next_hello = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&c->join_retry);
}

static void send_join(rp_client *c)
{
    rp_send_session(&c->out, &c->holepuncher, RP_FRAME_JOIN, c->session_id, c->session_id_len);
}

void rp_client_start(rp_client *c, int64_t now)
{
    c->state = RUPHIN_STATE_JOINING;
    c->give_up = now + c->cfg.handshake_timeout_ms;
    send_join(c);
    rp_retry_start(&c->join_retry, now, &c->cfg);
}

static void fail(rp_client *c, int32_t error, const ruphin_addr *peer)
{
    c->state = RUPHIN_STATE_FAILED;
    c->give_up = c->next_hello = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&c->join_retry);
    rp_emit(&c->out, RUPHIN_EVENT_FAILED, error, peer, c->session_id, c->session_id_len);
}

static bool is_our_session(const rp_client *c, const rp_frame *f)
{
    return f->payload_len == c->session_id_len &&
           memcmp(f->payload, c->session_id, c->session_id_len) == 0;
}

static void send_hello(rp_client *c, int64_t now, int64_t gap)
{
    rp_send_empty(&c->out, &c->server, RP_FRAME_HELLO_REQ);
    c->next_hello = now + gap;
}

static void on_peer_info(rp_client *c, int64_t now, const rp_frame *f)
{
    if (c->state == RUPHIN_STATE_CONNECTED || f->peer.port == 0 || rp_addr_is_any(&f->peer)) {
        rp_count(&c->out, RUPHIN_STAT_RX_UNEXPECTED);
        return;
    }
    /* Always take the newest announcement: the server's public address may
     * have changed between two of our Joins. */
    c->server = f->peer;
    c->state = RUPHIN_STATE_PUNCHING;
    send_hello(c, now, c->cfg.punch_interval_ms);
}

static void become_connected(rp_client *c, int64_t now)
{
    c->state = RUPHIN_STATE_CONNECTED;
    c->give_up = RUPHIN_NO_DEADLINE;
    rp_retry_stop(&c->join_retry);
    c->last_heard = now;
    c->next_hello = now + c->cfg.keepalive_ms;
    rp_emit(&c->out, RUPHIN_EVENT_CONNECTED, 0, &c->server, NULL, 0);
}

static void on_server_frame(rp_client *c, int64_t now, const rp_frame *f)
{
    if (f->type == RP_FRAME_HELLO_REQ)
        rp_send_empty(&c->out, &c->server, RP_FRAME_HELLO_RESP);
    if (c->state == RUPHIN_STATE_PUNCHING)
        become_connected(c, now);
    c->last_heard = now;
    if (f->type == RP_FRAME_DATA)
        rp_emit(&c->out, RUPHIN_EVENT_DATA, 0, &c->server, f->payload, f->payload_len);
}

static bool is_server_frame(const rp_frame *f)
{
    return f->type == RP_FRAME_HELLO_REQ || f->type == RP_FRAME_HELLO_RESP ||
           f->type == RP_FRAME_DATA;
}

void rp_client_input(rp_client *c, int64_t now, const ruphin_addr *from, const rp_frame *f)
{
    bool joining = c->state == RUPHIN_STATE_JOINING || c->state == RUPHIN_STATE_PUNCHING;
    bool from_hp = rp_addr_same(from, &c->holepuncher);

    if (joining && from_hp && f->type == RP_FRAME_PEER_INFO)
        on_peer_info(c, now, f);
    else if (joining && from_hp && f->type == RP_FRAME_SESSION_NOT_FOUND && is_our_session(c, f))
        fail(c, RUPHIN_ERR_SESSION_NOT_FOUND, from);
    else if ((c->state == RUPHIN_STATE_PUNCHING || c->state == RUPHIN_STATE_CONNECTED) &&
             rp_addr_same(from, &c->server) && is_server_frame(f))
        on_server_frame(c, now, f);
    else
        rp_count(&c->out, RUPHIN_STAT_RX_UNEXPECTED);
}

static void tick_handshake(rp_client *c, int64_t now)
{
    if (rp_due(c->give_up, now)) {
        fail(c, RUPHIN_ERR_TIMEOUT, c->state == RUPHIN_STATE_PUNCHING ? &c->server
                                                                      : &c->holepuncher);
        return;
    }
    if (rp_due(c->join_retry.next, now)) {
        send_join(c);
        rp_retry_backoff(&c->join_retry, now, &c->cfg);
    }
    if (c->state == RUPHIN_STATE_PUNCHING && rp_due(c->next_hello, now))
        send_hello(c, now, c->cfg.punch_interval_ms);
}

static void tick_connected(rp_client *c, int64_t now)
{
    if (now - c->last_heard >= rp_config_silence_limit(&c->cfg)) {
        fail(c, RUPHIN_ERR_PEER_LOST, &c->server);
        return;
    }
    if (rp_due(c->next_hello, now))
        send_hello(c, now, c->cfg.keepalive_ms);
}

void rp_client_tick(rp_client *c, int64_t now)
{
    if (c->state == RUPHIN_STATE_JOINING || c->state == RUPHIN_STATE_PUNCHING)
        tick_handshake(c, now);
    else if (c->state == RUPHIN_STATE_CONNECTED)
        tick_connected(c, now);
}

int64_t rp_client_deadline(const rp_client *c)
{
    int64_t d;
    if (c->state == RUPHIN_STATE_CONNECTED)
        return rp_earliest(c->next_hello, c->last_heard + rp_config_silence_limit(&c->cfg));
    if (c->state != RUPHIN_STATE_JOINING && c->state != RUPHIN_STATE_PUNCHING)
        return RUPHIN_NO_DEADLINE;
    d = rp_earliest(c->give_up, c->join_retry.next);
    return c->state == RUPHIN_STATE_PUNCHING ? rp_earliest(d, c->next_hello) : d;
}
