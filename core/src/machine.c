/* Pieces shared by the role state machines; see machine.h. */
#include "machine.h"
#include "addr.h"

#include <string.h>

int64_t rp_config_silence_limit(const rp_config *cfg)
{
    return cfg->keepalive_ms * cfg->missed_keepalives;
}

bool rp_events_full(const rp_event_queue *q)
{
    return q->count == RP_EVENT_QUEUE_LEN;
}

unsigned rp_events_room(const rp_event_queue *q)
{
    return RP_EVENT_QUEUE_LEN - q->count;
}

bool rp_events_empty(const rp_event_queue *q)
{
    return q->count == 0;
}

void rp_emit(const rp_output *out, int32_t type, int32_t error, const ruphin_addr *peer,
             const uint8_t *data, size_t len)
{
    rp_event_queue *q = out->events;
    rp_queued_event *slot;

    if (rp_events_full(q)) {
        rp_count(out, RUPHIN_STAT_EVENTS_DROPPED);
        return;
    }
    slot = &q->slots[(q->head + q->count) % RP_EVENT_QUEUE_LEN];
    q->count++;
    memset(&slot->event, 0, sizeof slot->event);
    slot->event.type = type;
    slot->event.error = error;
    if (peer)
        slot->event.peer = *peer;
    slot->event.len = len;
    if (len <= sizeof slot->inline_data) {
        if (len)
            memcpy(slot->inline_data, data, len);
        slot->event.data = NULL; /* set to the caller's copy when popped */
    } else {
        slot->event.data = data;
    }
}

bool rp_events_pop(rp_event_queue *q, rp_queued_event *storage, ruphin_event *event)
{
    if (rp_events_empty(q))
        return false;
    *storage = q->slots[q->head];
    q->head = (q->head + 1) % RP_EVENT_QUEUE_LEN;
    q->count--;
    if (storage->event.data == NULL && storage->event.len > 0)
        storage->event.data = storage->inline_data;
    *event = storage->event;
    return true;
}

void rp_count(const rp_output *out, ruphin_stat_id stat)
{
    out->stats[stat]++;
}

void rp_count_add(const rp_output *out, ruphin_stat_id stat, int64_t n)
{
    out->stats[stat] += n;
}

int rp_send_frame(const rp_output *out, const ruphin_addr *to, const uint8_t *frame, size_t len)
{
    int rc = out->send(out->ctx, to, frame, len);
    rp_count(out, rc == 0 ? RUPHIN_STAT_TX_DATAGRAMS : RUPHIN_STAT_TX_FAILED);
    return rc;
}

int rp_send_frame_ttl(const rp_output *out, const ruphin_addr *to, const uint8_t *frame,
                      size_t len, int ttl)
{
    int rc;
    if (out->send_ttl == NULL)
        return rp_send_frame(out, to, frame, len);
    rc = out->send_ttl(out->ctx, to, frame, len, ttl);
    rp_count(out, rc == 0 ? RUPHIN_STAT_TX_DATAGRAMS : RUPHIN_STAT_TX_FAILED);
    return rc;
}

int rp_send_empty(const rp_output *out, const ruphin_addr *to, uint16_t type)
{
    uint8_t frame[RP_HEADER_LEN];
    size_t len = rp_wire_encode_empty(frame, sizeof frame, type);
    return rp_send_frame(out, to, frame, len);
}

int rp_send_session(const rp_output *out, const ruphin_addr *to, uint16_t type,
                    const uint8_t *id, size_t id_len)
{
    uint8_t frame[RP_HEADER_LEN + RUPHIN_MAX_SESSION_ID];
    size_t len = rp_wire_encode_session(frame, sizeof frame, type, id, id_len);
    return rp_send_frame(out, to, frame, len);
}

int64_t rp_earliest(int64_t a, int64_t b)
{
    if (a == RUPHIN_NO_DEADLINE)
        return b;
    if (b == RUPHIN_NO_DEADLINE)
        return a;
    return a < b ? a : b;
}

bool rp_due(int64_t deadline, int64_t now)
{
    return deadline != RUPHIN_NO_DEADLINE && deadline <= now;
}

void rp_retry_start(rp_retry *r, int64_t now, const rp_config *cfg)
{
    r->interval = cfg->retransmit_ms;
    r->next = now + r->interval;
}

void rp_retry_backoff(rp_retry *r, int64_t now, const rp_config *cfg)
{
    r->interval *= 2;
    if (r->interval > cfg->retransmit_max_ms)
        r->interval = cfg->retransmit_max_ms;
    r->next = now + r->interval;
}

void rp_retry_stop(rp_retry *r)
{
    r->next = RUPHIN_NO_DEADLINE;
}

int rp_send_probe(const rp_output *out, const ruphin_addr *holepuncher)
{
    return rp_send_session(out, holepuncher, RP_FRAME_REGISTER_ACK,
                           (const uint8_t *)RP_PROBE_ID, RP_PROBE_ID_LEN);
}

int64_t rp_scan_delay(const rp_config *cfg)
{
    /* Five punches: enough for loss and delay on the way, early enough to
     * finish a pass of the scan before peers fall back to the relay. */
    return 5 * cfg->punch_interval_ms;
}

int64_t rp_scan_pass_ms(void)
{
    return (int64_t)(RP_SCAN_PORTS - 1 + RP_SCAN_BATCH - 1) / RP_SCAN_BATCH * RP_SCAN_GAP_MS;
}

bool rp_scan_possible(const ruphin_addr *target)
{
    /* No NAT on loopback: a scan there would only hit the host's services. */
    return target->family == 4 && target->port >= RP_SCAN_FIRST_PORT &&
           !rp_addr_is_loopback(target);
}

void rp_scan_start(rp_scan *s, const ruphin_addr *target, int64_t when)
{
    s->target = *target;
    s->next = when;
    s->sent = 0;
}

void rp_scan_stop(rp_scan *s)
{
    s->next = RUPHIN_NO_DEADLINE;
}

bool rp_scan_running(const rp_scan *s)
{
    return s->next != RUPHIN_NO_DEADLINE;
}

/* Offsets +1, -1, +2, -2, ... from the centre, wrapping around the range:
 * a pass (RP_SCAN_PORTS - 1 probes) visits every port of the range once,
 * but the centre, which is punched anyway. */
uint16_t rp_scan_port(uint16_t center, uint32_t i)
{
    uint32_t k = i % (RP_SCAN_PORTS - 1), step = k / 2 + 1;
    uint32_t base = (uint32_t)(center - RP_SCAN_FIRST_PORT);
    uint32_t off = k % 2 == 0 ? step : RP_SCAN_PORTS - step;
    return (uint16_t)(RP_SCAN_FIRST_PORT + (base + off) % RP_SCAN_PORTS);
}

void rp_scan_tick(rp_scan *s, const rp_output *out, int64_t now, const uint8_t *frame,
                  size_t len)
{
    const uint32_t total = (uint32_t)RP_SCAN_PASSES * (RP_SCAN_PORTS - 1);
    int batches = 0;
    ruphin_addr to = s->target;

    while (rp_due(s->next, now) && batches++ < RP_SCAN_MAX_LATE) {
        uint32_t end = s->sent + RP_SCAN_BATCH < total ? s->sent + RP_SCAN_BATCH : total;
        for (; s->sent < end; s->sent++) {
            to.port = rp_scan_port(s->target.port, s->sent);
            rp_send_frame(out, &to, frame, len);
        }
        s->next = s->sent == total ? RUPHIN_NO_DEADLINE : s->next + RP_SCAN_GAP_MS;
    }
    if (rp_due(s->next, now)) /* too late to make up for: go on from now */
        s->next = now + RP_SCAN_GAP_MS;
}

int64_t rp_probe_gap(const rp_config *cfg)
{
    int64_t quarter = cfg->keepalive_ms / 4;
    return quarter > cfg->punch_interval_ms ? quarter : cfg->punch_interval_ms;
}

int64_t rp_recovery_retry_max(const rp_config *cfg)
{
    int64_t half = cfg->keepalive_ms / 2;
    if (half > cfg->retransmit_max_ms)
        half = cfg->retransmit_max_ms;
    return half > cfg->retransmit_ms ? half : cfg->retransmit_ms;
}

void rp_watch_reset(rp_watch *w)
{
    w->unanswered = RUPHIN_NO_DEADLINE;
    w->next_probe = RUPHIN_NO_DEADLINE;
    w->probes = 0;
}

void rp_watch_sent(rp_watch *w, int64_t now)
{
    if (w->unanswered == RUPHIN_NO_DEADLINE)
        w->unanswered = now < 0 ? 0 : now;
}

/* When probing starts, unless the peer is heard first. */
static int64_t suspect_at(const rp_watch *w, const rp_config *cfg, int64_t last_heard)
{
    int64_t gap = rp_probe_gap(cfg);
    int64_t quiet = last_heard + cfg->keepalive_ms + gap;
    if (w->unanswered == RUPHIN_NO_DEADLINE)
        return quiet;
    return rp_earliest(quiet, w->unanswered + 2 * gap);
}

rp_watch_action rp_watch_tick(rp_watch *w, const rp_config *cfg, int64_t last_heard,
                              int64_t now)
{
    if (w->next_probe == RUPHIN_NO_DEADLINE) {
        if (now < suspect_at(w, cfg, last_heard))
            return RP_WATCH_QUIET;
    } else if (now < w->next_probe) {
        return RP_WATCH_QUIET;
    } else if (w->probes >= RP_PATH_PROBES) {
        rp_watch_reset(w);
        return RP_WATCH_LOST;
    }
    w->probes++;
    w->next_probe = now + rp_probe_gap(cfg);
    return RP_WATCH_PROBE;
}

int64_t rp_watch_deadline(const rp_watch *w, const rp_config *cfg, int64_t last_heard)
{
    if (w->next_probe != RUPHIN_NO_DEADLINE)
        return w->next_probe;
    return suspect_at(w, cfg, last_heard);
}
