/* Pieces shared by the role state machines; see machine.h. */
#include "machine.h"

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

int rp_send_frame(const rp_output *out, const ruphin_addr *to, const uint8_t *frame, size_t len)
{
    int rc = out->send(out->ctx, to, frame, len);
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
