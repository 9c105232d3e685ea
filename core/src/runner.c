/*
 * Active mode: a thread that polls a node and hands its events to other
 * threads through a bounded queue, and sends what they queue.
 *
 * One mutex guards both queues and the flags. The runner thread polls
 * without the lock, waiting on the socket; other threads get its attention
 * with ruphin_wake, whose WAKE events the runner swallows. While the event
 * queue is full the thread waits instead of polling (back-pressure: datagrams
 * wait in the socket buffer), so no event is lost.
 */
#include "node.h"
#include "thread.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    QUEUE_LEN = 256,
    SAFETY_POLL_MS = 5000 /* in case a wake datagram is lost: look at the flags anyway */
};

typedef struct owned_event {
    ruphin_event event; /* event.data points to the copy below */
    uint8_t *copy;
} owned_event;

typedef struct outgoing {
    ruphin_addr to;
    bool has_to;
    uint8_t *data;
    size_t len;
} outgoing;

struct ruphin_runner {
    ruphin_node *node;
    int64_t max_payload;
    rp_thread thread;
    rp_mutex lock;
    rp_cond changed; /* an event queued or taken, a send queued, stop asked */
    bool stop_requested, finished, joined;
    owned_event events[QUEUE_LEN];
    unsigned ev_head, ev_count;
    outgoing sends[QUEUE_LEN];
    unsigned tx_head, tx_count;
    owned_event current; /* the event last handed out by next */
};

/* Copies ev (and its data) into the queue; caller holds the lock and has
 * checked there is room. Returns false when memory ran out. */
static bool push_event(ruphin_runner *r, const ruphin_event *ev)
{
    owned_event *slot = &r->events[(r->ev_head + r->ev_count) % QUEUE_LEN];
    slot->copy = NULL;
    if (ev->len > 0) {
        slot->copy = malloc(ev->len);
        if (slot->copy == NULL)
            return false;
        memcpy(slot->copy, ev->data, ev->len);
    }
    slot->event = *ev;
    slot->event.data = slot->copy;
    r->ev_count++;
    return true;
}

/* Sends everything queued; called by the runner thread with the lock held,
 * releasing it around each send. */
static void send_queued(ruphin_runner *r)
{
    while (r->tx_count > 0) {
        outgoing o = r->sends[r->tx_head];
        r->tx_head = (r->tx_head + 1) % QUEUE_LEN;
        r->tx_count--;
        rp_mutex_unlock(&r->lock);
        ruphin_send(r->node, o.has_to ? &o.to : NULL, o.data, o.len);
        free(o.data);
        rp_mutex_lock(&r->lock);
    }
}

static void run(void *arg)
{
    ruphin_runner *r = arg;
    ruphin_event ev;
    rp_mutex_lock(&r->lock);
    while (!r->stop_requested) {
        int rc;
        send_queued(r);
        if (r->ev_count == QUEUE_LEN) {
            rp_cond_wait(&r->changed, &r->lock, -1);
            continue;
        }
        rp_mutex_unlock(&r->lock);
        rc = ruphin_poll(r->node, SAFETY_POLL_MS, &ev);
        rp_mutex_lock(&r->lock);
        if (rc < 0)
            break; /* the node failed for good; its FAILED event is queued */
        if (rc == 1 && ev.type != RUPHIN_EVENT_WAKE && push_event(r, &ev))
            rp_cond_broadcast(&r->changed);
    }
    send_queued(r); /* what was queued before stop still goes out */
    r->finished = true;
    rp_cond_broadcast(&r->changed);
    rp_mutex_unlock(&r->lock);
}

int32_t ruphin_runner_start(ruphin_runner **out, ruphin_node *node)
{
    ruphin_runner *r;
    if (out == NULL || node == NULL)
        return RUPHIN_ERR_INVALID;
    *out = NULL;
    /* Sends and stop reach the thread through ruphin_wake: without it they
     * would wait for the safety poll, seconds later. */
    if (!rp_node_can_wake(node))
        return RUPHIN_ERR_NOT_SUPPORTED;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return RUPHIN_ERR_NOMEM;
    r->node = node;
    r->max_payload = rp_node_max_payload(node);
    rp_mutex_init(&r->lock);
    rp_cond_init(&r->changed);
    if (rp_thread_start(&r->thread, run, r) != 0) {
        rp_cond_destroy(&r->changed);
        rp_mutex_destroy(&r->lock);
        free(r);
        return RUPHIN_ERR_NOMEM;
    }
    *out = r;
    return RUPHIN_OK;
}

/* Waits on the condition until pred holds or the time is up; lock held. */
static void wait_for_event(ruphin_runner *r, int32_t timeout_ms)
{
    int64_t end = ruphin_now() + timeout_ms;
    while (r->ev_count == 0 && !r->finished) {
        int64_t left = end - ruphin_now();
        if (timeout_ms >= 0 && left <= 0)
            return;
        rp_cond_wait(&r->changed, &r->lock, timeout_ms < 0 ? -1 : (int32_t)left);
    }
}

int32_t ruphin_runner_next(ruphin_runner *r, int32_t timeout_ms, ruphin_event *event)
{
    int32_t rc;
    if (r == NULL || event == NULL || timeout_ms < RUPHIN_WAIT_FOREVER)
        return RUPHIN_ERR_INVALID;
    memset(event, 0, sizeof *event);
    rp_mutex_lock(&r->lock);
    wait_for_event(r, timeout_ms);
    if (r->ev_count > 0) {
        free(r->current.copy);
        r->current = r->events[r->ev_head];
        r->ev_head = (r->ev_head + 1) % QUEUE_LEN;
        r->ev_count--;
        *event = r->current.event;
        rp_cond_broadcast(&r->changed); /* room again, if the runner waits for it */
        rc = 1;
    } else {
        rc = r->finished ? RUPHIN_ERR_STOPPED : 0;
    }
    rp_mutex_unlock(&r->lock);
    return rc;
}

int32_t ruphin_runner_send(ruphin_runner *r, const ruphin_addr *to, const uint8_t *data,
                           size_t len)
{
    outgoing *o;
    if (r == NULL || (data == NULL && len > 0))
        return RUPHIN_ERR_INVALID;
    if (len > (size_t)r->max_payload)
        return RUPHIN_ERR_TOO_LARGE;
    rp_mutex_lock(&r->lock);
    if (r->stop_requested || r->finished) {
        rp_mutex_unlock(&r->lock);
        return RUPHIN_ERR_STOPPED;
    }
    if (r->tx_count == QUEUE_LEN) {
        rp_mutex_unlock(&r->lock);
        return RUPHIN_ERR_WOULD_BLOCK;
    }
    o = &r->sends[(r->tx_head + r->tx_count) % QUEUE_LEN];
    o->data = malloc(len ? len : 1);
    if (o->data == NULL) {
        rp_mutex_unlock(&r->lock);
        return RUPHIN_ERR_NOMEM;
    }
    if (len)
        memcpy(o->data, data, len);
    o->len = len;
    o->has_to = to != NULL;
    if (to)
        o->to = *to;
    r->tx_count++;
    /* Woken under the lock: once stop has taken it, no sender touches the
     * node any more, which is then the caller's to close. */
    ruphin_wake(r->node);
    rp_mutex_unlock(&r->lock);
    return RUPHIN_OK;
}

void ruphin_runner_stop(ruphin_runner *r)
{
    bool join;
    if (r == NULL)
        return;
    rp_mutex_lock(&r->lock);
    join = !r->joined;
    r->joined = true;
    r->stop_requested = true;
    rp_cond_broadcast(&r->changed);
    rp_mutex_unlock(&r->lock);
    if (join) {
        /* Only the first stop touches the node: after it the node is the
         * caller's again, who may already have closed it. */
        ruphin_wake(r->node);
        rp_thread_join(r->thread);
        return;
    }
    rp_mutex_lock(&r->lock); /* another thread joins: wait until it is done */
    while (!r->finished)
        rp_cond_wait(&r->changed, &r->lock, -1);
    rp_mutex_unlock(&r->lock);
}

void ruphin_runner_free(ruphin_runner *r)
{
    unsigned i;
    if (r == NULL)
        return;
    ruphin_runner_stop(r);
    for (i = 0; i < r->ev_count; i++)
        free(r->events[(r->ev_head + i) % QUEUE_LEN].copy);
    for (i = 0; i < r->tx_count; i++)
        free(r->sends[(r->tx_head + i) % QUEUE_LEN].data);
    free(r->current.copy);
    rp_cond_destroy(&r->changed);
    rp_mutex_destroy(&r->lock);
    free(r);
}
