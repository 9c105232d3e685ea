/*
 * The public ABI: a node couples one role state machine with one socket and
 * the clock, and runs them from ruphin_poll().
 *
 * Poll loop: hand out a queued event; else fire due timers; else read
 * datagrams until one of them produces an event; else wait on the socket
 * until the next deadline or the caller's timeout, whichever comes first.
 * The socket is read only while the event queue is empty, so a Data event's
 * payload (which points into the receive batch) stays valid until handed out.
 * Frames the state machines send while a batch is processed are queued and
 * go out together when it is done.
 */
#include "addr.h"
#include "node.h"
#include "options.h"
#include "roles.h"
#include "sock.h"
#include "steer.h"

#include <stdlib.h>
#include <string.h>

enum {
    MIN_SLOT_SIZE = 512,       /* every control frame fits with room to spare */
    HOLEPUNCHER_BATCH = 64,    /* datagrams per receive call */
    PEER_BATCH_MIN = 16,       /* a peer's receive batch: slots for large payloads */
    PEER_BATCH_BYTES = 256 * 1024, /* ... more for smaller ones, up to RP_RX_BATCH_MAX */
    MAX_BATCHES_PER_PASS = 4,  /* then the clock and timers get a look again */
    MAX_EVENTS_PER_DATAGRAM = 2, /* a client's first Data: CONNECTED, then DATA */
    DATA_QUEUE_BYTES = 256 * 1024 /* ruphin_send_batch's frames, at most */
};

/* A whole receive batch's events fit in the queue, and its answers in one
 * send call (machine.h, sock.h). */
typedef char rp_event_queue_fits_a_batch
    [RP_EVENT_QUEUE_LEN >= (RP_RX_BATCH_MAX + 1) * MAX_EVENTS_PER_DATAGRAM ? 1 : -1];
typedef char rp_tx_batch_fits_a_batch[RP_TX_BATCH_MAX >= 2 * HOLEPUNCHER_BATCH ? 1 : -1];

/* ruphin_send_batch: the state machines write each Data frame into a slot
 * of its own, and the queue goes out with one system call. */
typedef struct data_queue {
    bool queuing;             /* frames sent now are Data frames of a batch */
    uint8_t *slots;           /* capacity slots of slot_size bytes, on first use */
    size_t slot_size;
    unsigned capacity, count;
    const uint8_t *frames[RP_TX_BATCH_MAX];
    size_t lens[RP_TX_BATCH_MAX];
    ruphin_addr to[RP_TX_BATCH_MAX];
} data_queue;

struct ruphin_node {
    int32_t role;
    rp_config cfg;
    rp_sock sock;
    rp_output out;
    rp_event_queue events;
    /* the events last handed out, owning their inline data */
    rp_queued_event handed[RUPHIN_POLL_BATCH_MAX];
    int64_t stats[RUPHIN_STAT_COUNT];
    bool started;
    bool batching;            /* inside process_batches: small frames wait in tx_batch */
    rp_rx_batch rx;
    bool rx_drained;          /* the last receive emptied the socket: wait for the next */
    rp_frame *frames;         /* the receive batch, decoded as it arrives */
    bool decoded[RP_RX_BATCH_MAX]; /* frames[i] is valid (else malformed) */
    rp_tx_batch tx_batch;
    uint8_t *tx;              /* a Data frame being sent, max_payload + header */
    data_queue data;
    union {
        rp_holepuncher holepuncher;
        rp_server server;
        rp_client client;
    } m;
};

static void flush_tx(ruphin_node *node)
{
    unsigned failed = rp_sock_send_batch(&node->sock, &node->tx_batch);
    node->stats[RUPHIN_STAT_TX_FAILED] += failed;
    node->stats[RUPHIN_STAT_TX_DATAGRAMS] -= failed; /* counted as sent when queued */
}

/* Nonces are never 0: 0 means "none" in the state machines. A member of a
 * holepuncher group picks those the group steers back to it (Relay); its
 * keys, drawn here too, so keep all but log2(members) bits of each word. */
static uint64_t random_nonce(void *ctx)
{
    const ruphin_node *node = ctx;
    uint64_t v;
    while ((v = rp_os_random64()) == 0)
        ;
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER && node->cfg.workers > 1)
        v = rp_steer_nonce(v, (unsigned)node->cfg.worker, (unsigned)node->cfg.workers);
    return v;
}

/* A Data frame of ruphin_send_batch: the state machine wrote it into the
 * next free slot (one frame per payload); one written elsewhere is copied. */
static int queue_data_frame(data_queue *q, const ruphin_addr *to, const uint8_t *frame,
                            size_t len)
{
    uint8_t *slot = q->slots + q->count * q->slot_size;
    uintptr_t at = (uintptr_t)frame, start = (uintptr_t)slot;
    if (q->count == q->capacity || len > q->slot_size)
        return RUPHIN_ERR_BUFFER;
    if (at < start || at + len > start + q->slot_size) {
        memcpy(slot, frame, len);
        frame = slot;
    }
    q->frames[q->count] = frame;
    q->lens[q->count] = len;
    q->to[q->count] = *to;
    q->count++;
    return RUPHIN_OK;
}

static int send_datagram(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len)
{
    ruphin_node *node = ctx;
    rp_tx_batch *b = &node->tx_batch;
    if (node->data.queuing)
        return queue_data_frame(&node->data, to, frame, len);
    if (!node->batching || len > RP_TX_SLOT_SIZE)
        return rp_sock_send(&node->sock, to, frame, len);
    if (b->count == RP_TX_BATCH_MAX)
        flush_tx(node);
    memcpy(b->slots[b->count], frame, len);
    b->lens[b->count] = len;
    b->to[b->count] = *to;
    b->count++;
    return RUPHIN_OK;
}

/* The largest frame a peer sends or takes: a Data payload in a frame, maybe
 * sealed (its own frame then), maybe inside a Relay frame (header, nonce). */
static size_t tx_capacity(const ruphin_node *node)
{
    size_t sealing = node->cfg.sealed ? RP_HEADER_LEN + RP_SEAL_OVERHEAD : 0;
    return (size_t)node->cfg.max_payload + RP_HEADER_LEN + sealing + RP_HEADER_LEN + 8;
}

/* The host's addresses as they are now (a path was lost: the host may have
 * moved to another network). */
static size_t local_addresses(void *ctx, ruphin_addr *out, size_t max)
{
    ruphin_node *node = ctx;
    return rp_sock_local_addresses(&node->sock, out, max);
}

/* Sent at once, after what is queued: the TTL is a socket option for the
 * duration of one send. */
static int send_datagram_ttl(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len,
                             int ttl)
{
    ruphin_node *node = ctx;
    if (node->batching && node->tx_batch.count > 0)
        flush_tx(node);
    return rp_sock_send_ttl(&node->sock, to, frame, len, ttl);
}

/* Receive slots: a holepuncher needs control frames, and when it relays,
 * Relay frames carrying a Sealed frame of its own max payload (which stands
 * for its peers'); a peer takes Data up to its max payload. Larger datagrams
 * arrive cut short and count as malformed. */
static size_t rx_slot_size(const ruphin_node *node)
{
    size_t frame_max = tx_capacity(node);
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER && node->cfg.relay_rate == 0)
        frame_max = 0;
    else if (node->role == RUPHIN_ROLE_HOLEPUNCHER) /* Relay: header, nonce, Sealed frame */
        frame_max = RP_HEADER_LEN + 8 + RP_HEADER_LEN + RP_SEAL_OVERHEAD +
                    (size_t)node->cfg.max_payload;
    return frame_max < MIN_SLOT_SIZE ? MIN_SLOT_SIZE : frame_max;
}

static int alloc_buffers(ruphin_node *node)
{
    size_t frame_max = tx_capacity(node);
    size_t slot = rx_slot_size(node);
    size_t fit = PEER_BATCH_BYTES / slot;
    unsigned batch = node->role == RUPHIN_ROLE_HOLEPUNCHER ? HOLEPUNCHER_BATCH
                     : fit < PEER_BATCH_MIN                ? PEER_BATCH_MIN
                     : fit > RP_RX_BATCH_MAX               ? RP_RX_BATCH_MAX
                                                           : (unsigned)fit;
    node->tx = malloc(frame_max);
    node->frames = malloc(batch * sizeof *node->frames);
    if (node->tx == NULL || node->frames == NULL)
        return RUPHIN_ERR_NOMEM;
    return rp_rx_batch_init(&node->rx, batch, slot);
}

static void node_free(ruphin_node *node)
{
    rp_sock_close(&node->sock);
    rp_rx_batch_free(&node->rx);
    free(node->data.slots);
    free(node->frames);
    free(node->tx);
    free(node);
}

/* Allocates a node and opens its socket on bind_text (or default_bind). */
static int node_open(ruphin_node **out, int32_t role, const char *bind_text,
                     uint16_t default_port, const ruphin_addr *default_bind,
                     const ruphin_options *options)
{
    ruphin_addr bind_addr = *default_bind;
    ruphin_node *node;
    int rc;

    node = calloc(1, sizeof *node);
    if (node == NULL)
        return RUPHIN_ERR_NOMEM;
    node->role = role;
    node->sock.fd = -1;
    rc = rp_config_from_options(&node->cfg, options);
    if (rc == RUPHIN_OK && bind_text != NULL)
        rc = rp_sock_resolve(bind_text, default_port, false, 0, &bind_addr);
    if (rc == RUPHIN_OK)
        rc = alloc_buffers(node);
    if (rc == RUPHIN_OK)
        rc = rp_sock_open(&node->sock, &bind_addr, node->cfg.socket_buffer,
                          role == RUPHIN_ROLE_HOLEPUNCHER ? (unsigned)node->cfg.workers : 1,
                          (unsigned)node->cfg.worker);
    if (rc != RUPHIN_OK) {
        node_free(node);
        return rc;
    }
    node->out.send = send_datagram;
    node->out.send_ttl = send_datagram_ttl;
    node->out.local_addresses = local_addresses;
    node->out.random = random_nonce;
    node->out.ctx = node;
    node->out.events = &node->events;
    node->out.stats = node->stats;
    *out = node;
    return RUPHIN_OK;
}


static ruphin_addr wildcard(uint8_t family, uint16_t port)
{
    ruphin_addr a;
    memset(&a, 0, sizeof a);
    a.family = family;
    a.port = port;
    return a;
}

int32_t ruphin_holepuncher_new(ruphin_node **out, const char *bind,
                               const ruphin_options *options)
{
    ruphin_addr any6 = wildcard(6, RUPHIN_DEFAULT_PORT), any4 = wildcard(4, RUPHIN_DEFAULT_PORT);
    ruphin_node *node;
    int rc;

    if (out == NULL)
        return RUPHIN_ERR_INVALID;
    *out = NULL;
    rc = node_open(&node, RUPHIN_ROLE_HOLEPUNCHER, bind, RUPHIN_DEFAULT_PORT, &any6, options);
    if (rc == RUPHIN_ERR_ADDRESS_FAMILY && bind == NULL) /* a host without IPv6 */
        rc = node_open(&node, RUPHIN_ROLE_HOLEPUNCHER, bind, RUPHIN_DEFAULT_PORT, &any4, options);
    if (rc != RUPHIN_OK)
        return rc;
    rc = rp_holepuncher_init(&node->m.holepuncher, &node->cfg, &node->out, rp_os_random64());
    if (rc != RUPHIN_OK) {
        node_free(node);
        return rc;
    }
    *out = node;
    return RUPHIN_OK;
}

/* What server and client creation share: argument checks, resolving the
 * holepuncher, opening the socket in the holepuncher's family. */
static int peer_open(ruphin_node **out, int32_t role, const char *holepuncher,
                     const uint8_t *id, size_t id_len, const char *bind,
                     const ruphin_options *options, ruphin_addr *hp_addr)
{
    ruphin_addr any;
    int rc;

    if (out == NULL)
        return RUPHIN_ERR_INVALID;
    *out = NULL;
    if (holepuncher == NULL || (id == NULL && id_len > 0) || id_len > RUPHIN_MAX_SESSION_ID)
        return RUPHIN_ERR_INVALID;
    rc = rp_sock_resolve(holepuncher, RUPHIN_DEFAULT_PORT, false, 0, hp_addr);
    if (rc != RUPHIN_OK)
        return rc;
    if (hp_addr->port == 0 || rp_addr_is_any(hp_addr))
        return RUPHIN_ERR_ADDRESS;
    any = wildcard(hp_addr->family, 0);
    rc = node_open(out, role, bind, 0, &any, options);
    if (rc == RUPHIN_OK && hp_addr->family == 4 && (*out)->sock.family == 6 &&
        !(*out)->sock.dual_stack) {
        node_free(*out);
        *out = NULL;
        rc = RUPHIN_ERR_ADDRESS_FAMILY;
    } else if (rc == RUPHIN_OK && hp_addr->family == 6 && (*out)->sock.family == 4) {
        node_free(*out);
        *out = NULL;
        rc = RUPHIN_ERR_ADDRESS_FAMILY;
    }
    return rc;
}

int32_t ruphin_server_new(ruphin_node **out, const char *holepuncher,
                          const uint8_t *session_id, size_t session_id_len,
                          const char *bind, const ruphin_options *options)
{
    ruphin_addr hp;
    ruphin_node *node;
    int rc = peer_open(&node, RUPHIN_ROLE_SERVER, holepuncher, session_id, session_id_len,
                       bind, options, &hp);
    if (out != NULL)
        *out = NULL;
    if (rc != RUPHIN_OK)
        return rc;
    rc = rp_server_init(&node->m.server, &node->cfg, &node->out, &hp, session_id,
                        session_id_len);
    if (rc == RUPHIN_OK) {
        ruphin_addr locals[RP_MAX_LOCALS];
        rp_server_set_locals(&node->m.server, locals,
                             rp_sock_local_addresses(&node->sock, locals, RP_MAX_LOCALS));
    }
    if (rc != RUPHIN_OK) {
        rp_server_free(&node->m.server);
        node_free(node);
        return rc;
    }
    *out = node;
    return RUPHIN_OK;
}

int32_t ruphin_client_new(ruphin_node **out, const char *holepuncher,
                          const uint8_t *session_id, size_t session_id_len,
                          const char *bind, const ruphin_options *options)
{
    ruphin_addr hp, locals[RP_MAX_LOCALS];
    ruphin_node *node;
    int rc = peer_open(&node, RUPHIN_ROLE_CLIENT, holepuncher, session_id, session_id_len,
                       bind, options, &hp);
    if (out != NULL)
        *out = NULL;
    if (rc != RUPHIN_OK)
        return rc;
    rp_client_init(&node->m.client, &node->cfg, &node->out, &hp, session_id, session_id_len);
    rp_client_set_locals(&node->m.client, locals,
                         rp_sock_local_addresses(&node->sock, locals, RP_MAX_LOCALS));
    *out = node;
    return RUPHIN_OK;
}

void ruphin_close(ruphin_node *node)
{
    if (node == NULL)
        return;
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER)
        rp_holepuncher_free(&node->m.holepuncher);
    else if (node->role == RUPHIN_ROLE_CLIENT)
        rp_client_stop(&node->m.client); /* a generation-1 server forgets us now */
    else if (node->role == RUPHIN_ROLE_SERVER) {
        rp_server_stop(&node->m.server); /* the session ends now, not a lifetime later */
        rp_server_free(&node->m.server);
    }
    node_free(node);
}

/* ---- the poll loop ---- */

static void machine_start(ruphin_node *node, int64_t now)
{
    node->started = true;
    if (node->role == RUPHIN_ROLE_SERVER)
        rp_server_start(&node->m.server, now);
    else if (node->role == RUPHIN_ROLE_CLIENT)
        rp_client_start(&node->m.client, now);
}

static void machine_tick(ruphin_node *node, int64_t now)
{
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER)
        rp_holepuncher_tick(&node->m.holepuncher, now);
    else if (node->role == RUPHIN_ROLE_SERVER)
        rp_server_tick(&node->m.server, now);
    else
        rp_client_tick(&node->m.client, now);
}

static void machine_input(ruphin_node *node, int64_t now, const ruphin_addr *from,
                          const rp_frame *frame)
{
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER)
        rp_holepuncher_input(&node->m.holepuncher, now, from, frame);
    else if (node->role == RUPHIN_ROLE_SERVER)
        rp_server_input(&node->m.server, now, from, frame);
    else
        rp_client_input(&node->m.client, now, from, frame);
}

int64_t ruphin_deadline(const ruphin_node *node)
{
    if (node == NULL)
        return RUPHIN_NO_DEADLINE;
    if (!node->started || !rp_events_empty(&node->events))
        return 0; /* due at once: the next poll has work to do */
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER)
        return rp_holepuncher_deadline(&node->m.holepuncher);
    if (node->role == RUPHIN_ROLE_SERVER)
        return rp_server_deadline(&node->m.server);
    return rp_client_deadline(&node->m.client);
}

int32_t ruphin_state(const ruphin_node *node)
{
    if (node == NULL)
        return RUPHIN_ERR_INVALID;
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER)
        return RUPHIN_STATE_SERVING;
    if (node->role == RUPHIN_ROLE_SERVER)
        return node->m.server.state;
    return rp_client_public_state(&node->m.client);
}

/* LocalInterrupt wakes a poll only when it comes from this host. */
static bool from_this_host(const ruphin_node *node, const ruphin_addr *from)
{
    return rp_addr_is_loopback(from) || rp_addr_same_host(from, &node->sock.local);
}

/* Processes datagram i of the receive batch. */
static void handle_datagram(ruphin_node *node, int64_t now, unsigned i)
{
    const ruphin_addr *from = &node->rx.from[i];
    const rp_frame *frame = &node->frames[i];
    node->stats[RUPHIN_STAT_RX_DATAGRAMS]++;
    if (!node->decoded[i]) {
        node->stats[RUPHIN_STAT_RX_MALFORMED]++;
        return;
    }
    if (frame->type != RP_FRAME_LOCAL_INTERRUPT)
        machine_input(node, now, from, frame);
    else if (node->cfg.allow_interrupt && from_this_host(node, from))
        rp_emit(&node->out, RUPHIN_EVENT_WAKE, 0, from, NULL, 0);
    else
        node->stats[RUPHIN_STAT_RX_UNEXPECTED]++;
}

/* Decodes a fresh batch at once, so that a holepuncher can announce every
 * session lookup in it before handling the first: with a million sessions
 * each lookup misses the caches, and announced together the misses overlap
 * instead of following one another. */
static void decode_batch(ruphin_node *node)
{
    unsigned i;
    int round;
    for (i = 0; i < node->rx.count; i++)
        node->decoded[i] = !node->rx.truncated[i] &&
                           rp_wire_decode(node->rx.slots + i * node->rx.slot_size,
                                          node->rx.lens[i], &node->frames[i]) == RP_WIRE_OK;
    if (node->role != RUPHIN_ROLE_HOLEPUNCHER)
        return;
    for (round = 0; round < RP_SESSIONS_PREFETCH_ROUNDS; round++)
        for (i = 0; i < node->rx.count; i++)
            if (node->decoded[i])
                rp_holepuncher_prefetch(&node->m.holepuncher, &node->frames[i], round);
}

/* Reads and decodes a new batch, waiting up to wait_ms (-1: a long while)
 * for its first datagram, or not at all (0). Returns how many came, or an
 * error. A batch that is not full emptied the socket. */
static int read_batch(ruphin_node *node, int wait_ms)
{
    int rc = rp_sock_recv_wait(&node->sock, &node->rx, wait_ms);
    node->rx_drained = rc >= 0 && (unsigned)rc < node->rx.capacity;
    if (rc > 0)
        decode_batch(node);
    return rc;
}

/* Processes received datagrams, reading a new batch only once the current
 * one is done and every event was handed out (Data events point into the
 * batch), up to max_reads batches (0: only what is left of the current one),
 * and none once the socket was found empty: the next read is the wait's.
 * Within a batch it goes on while the event queue has room, so that the
 * answers to a whole batch leave in one send call. Returns 1 when more may
 * be waiting, 0 when the socket is drained, or an error. */
static int process_batches(ruphin_node *node, int max_reads)
{
    int64_t now = rp_clock_ms();
    int batches = 0, rc = 1;
    node->batching = true;
    for (;;) {
        if (node->rx.next == node->rx.count) {
            if (!rp_events_empty(&node->events) || node->rx_drained || batches++ == max_reads)
                break;
            rc = read_batch(node, 0);
            if (rc <= 0)
                break;
            now = rp_clock_ms();
        }
        if (rp_events_room(&node->events) < MAX_EVENTS_PER_DATAGRAM)
            break;
        handle_datagram(node, now, node->rx.next++);
    }
    node->batching = false;
    flush_tx(node);
    if (rc < 0)
        return rc;
    return !(node->rx_drained && node->rx.next == node->rx.count);
}

/* Hands out queued events into events[n..max). Their data stays valid
 * until the next call: inline data is kept in handed[], Data payloads in
 * the receive batch, which is not refilled while an event points into it. */
static int32_t take_events(ruphin_node *node, ruphin_event *events, int32_t n, int32_t max)
{
    while (n < max && rp_events_pop(&node->events, &node->handed[n], &events[n]))
        n++;
    return n;
}

/* After a first event: those that what is left of the current receive batch
 * gives, without reading the socket, waiting or looking at the clock. */
static int32_t more_events(ruphin_node *node, ruphin_event *events, int32_t n, int32_t max)
{
    while (n < max && node->rx.next < node->rx.count) {
        process_batches(node, 0);
        n = take_events(node, events, n, max);
    }
    return n;
}

/* How long to wait now: until the end of the caller's time or the next
 * deadline, whichever is first; -1 for ever. */
static int wait_ms(const ruphin_node *node, int64_t now, int64_t end)
{
    int64_t until = rp_earliest(end, ruphin_deadline(node));
    if (until == RUPHIN_NO_DEADLINE)
        return -1;
    if (until <= now)
        return 0;
    return until - now > 86400000 ? 86400000 : (int)(until - now);
}

/* ruphin_poll for up to max events. A queued event is handed out at once:
 * the clock is read only when there is none. */
static int32_t poll_events(ruphin_node *node, int32_t timeout_ms, ruphin_event *events,
                           int32_t max)
{
    int64_t now, end;
    int32_t n = take_events(node, events, 0, max);
    if (n > 0)
        return more_events(node, events, n, max);
    now = rp_clock_ms();
    end = timeout_ms < 0 ? RUPHIN_NO_DEADLINE : now + timeout_ms;
    if (!node->started)
        machine_start(node, now);
    for (;;) {
        int rc;
        if ((n = take_events(node, events, 0, max)) > 0)
            return more_events(node, events, n, max);
        if (ruphin_state(node) == RUPHIN_STATE_FAILED)
            return RUPHIN_ERR_FAILED;
        machine_tick(node, rp_clock_ms());
        if ((n = take_events(node, events, 0, max)) > 0)
            return more_events(node, events, n, max);
        rc = process_batches(node, MAX_BATCHES_PER_PASS);
        if (rc < 0)
            return rc;
        if ((n = take_events(node, events, 0, max)) > 0)
            return more_events(node, events, n, max);
        now = rp_clock_ms();
        if (rc > 0) { /* more may be waiting: the clock and timers had their look */
            if (rp_due(end, now))
                return 0;
            continue;
        }
        /* Drained: the wait is the next read (one system call, where a poll
         * and then a read would be two); when the time is up, a last look. */
        if ((rc = read_batch(node, wait_ms(node, now, end))) < 0)
            return rc;
        if (rc == 0 && rp_due(end, rp_clock_ms()))
            return 0;
    }
}

int32_t ruphin_poll(ruphin_node *node, int32_t timeout_ms, ruphin_event *event)
{
    if (node == NULL || event == NULL || timeout_ms < RUPHIN_WAIT_FOREVER)
        return RUPHIN_ERR_INVALID;
    memset(event, 0, sizeof *event);
    return poll_events(node, timeout_ms, event, 1);
}

int32_t ruphin_poll_batch(ruphin_node *node, int32_t timeout_ms, ruphin_event *events,
                          int32_t max)
{
    if (node == NULL || events == NULL || max < 1 || timeout_ms < RUPHIN_WAIT_FOREVER)
        return RUPHIN_ERR_INVALID;
    return poll_events(node, timeout_ms, events,
                       max > RUPHIN_POLL_BATCH_MAX ? RUPHIN_POLL_BATCH_MAX : max);
}

/* ---- sending ---- */

static int client_destination(const ruphin_node *node, const ruphin_addr *to)
{
    const rp_client *c = &node->m.client;
    if (c->state == RUPHIN_STATE_FAILED)
        return RUPHIN_ERR_FAILED;
    if (c->state != RUPHIN_STATE_CONNECTED && c->state != RUPHIN_STATE_PUNCHING &&
        c->state != RUPHIN_STATE_RELAYED)
        return RUPHIN_ERR_NOT_CONNECTED; /* punching: early data */
    if (to != NULL && !rp_addr_same(to, &c->server))
        return RUPHIN_ERR_UNKNOWN_PEER;
    return RUPHIN_OK;
}

static int server_destination(const ruphin_node *node, const ruphin_addr *to)
{
    if (node->m.server.state == RUPHIN_STATE_FAILED)
        return RUPHIN_ERR_FAILED;
    if (to == NULL)
        return RUPHIN_ERR_INVALID;
    return rp_server_can_send(&node->m.server, to);
}


/* What ruphin_send checks of one payload. */
static int payload_check(const ruphin_node *node, const uint8_t *data, size_t len)
{
    if (data == NULL && len > 0)
        return RUPHIN_ERR_INVALID;
    if (node->role == RUPHIN_ROLE_HOLEPUNCHER)
        return RUPHIN_ERR_NOT_SUPPORTED;
    if (len > (size_t)node->cfg.max_payload)
        return RUPHIN_ERR_TOO_LARGE;
    return RUPHIN_OK;
}

static int destination_check(const ruphin_node *node, const ruphin_addr *to)
{
    return node->role == RUPHIN_ROLE_CLIENT ? client_destination(node, to)
                                            : server_destination(node, to);
}

/* Hands a checked payload to the state machine, which writes its frame
 * into buf (tx_capacity bytes) and sends it. */
static int send_data(ruphin_node *node, const ruphin_addr *to, const uint8_t *data, size_t len,
                     uint8_t *buf)
{
    if (node->role == RUPHIN_ROLE_CLIENT)
        return rp_client_send_data(&node->m.client, data, len, buf, tx_capacity(node));
    return rp_server_send_data(&node->m.server, to, data, len, buf, tx_capacity(node));
}

int32_t ruphin_send(ruphin_node *node, const ruphin_addr *to, const uint8_t *data, size_t len)
{
    int rc = node == NULL ? RUPHIN_ERR_INVALID : payload_check(node, data, len);
    if (rc == RUPHIN_OK)
        rc = destination_check(node, to);
    return rc != RUPHIN_OK ? rc : send_data(node, to, data, len, node->tx);
}

/* The batch's slots, allocated on first use: as many frames as fit in
 * DATA_QUEUE_BYTES (one for payloads near 64 KiB, the most for small). */
static int data_queue_ready(ruphin_node *node)
{
    data_queue *q = &node->data;
    size_t n;
    if (q->slots != NULL)
        return RUPHIN_OK;
    q->slot_size = tx_capacity(node);
    n = DATA_QUEUE_BYTES / q->slot_size;
    q->capacity = n < 1 ? 1 : n > RP_TX_BATCH_MAX ? RP_TX_BATCH_MAX : (unsigned)n;
    q->slots = malloc(q->capacity * q->slot_size);
    return q->slots == NULL ? RUPHIN_ERR_NOMEM : RUPHIN_OK;
}

/* Queues payloads from data + *off until the queue is full or one fails
 * its checks (*error). Returns how many were queued. */
static size_t queue_data(ruphin_node *node, const ruphin_addr *to, const uint8_t *data,
                         size_t *off, const size_t *lens, size_t count, int *error)
{
    data_queue *q = &node->data;
    size_t i;
    *error = RUPHIN_OK;
    q->queuing = true;
    for (i = 0; i < count && q->count < q->capacity; i++) {
        const uint8_t *payload = data != NULL ? data + *off : NULL;
        *error = payload_check(node, payload, lens[i]);
        if (*error == RUPHIN_OK)
            *error = send_data(node, to, payload, lens[i], q->slots + q->count * q->slot_size);
        if (*error != RUPHIN_OK)
            break;
        *off += lens[i];
    }
    q->queuing = false;
    return i;
}

/* Sends what queue_data queued; returns how many went out. Frames count as
 * sent when queued: those that did not go out are taken back, and the one
 * that failed counts as failed (as by ruphin_send). */
static size_t flush_data(ruphin_node *node, int *error)
{
    data_queue *q = &node->data;
    unsigned sent = rp_sock_send_many(&node->sock, q->to, q->frames, q->lens, q->count, true,
                                      error);
    if (sent < q->count) {
        node->stats[RUPHIN_STAT_TX_DATAGRAMS] -= q->count - sent;
        node->stats[RUPHIN_STAT_TX_FAILED]++;
    }
    q->count = 0;
    return sent;
}

int32_t ruphin_send_batch(ruphin_node *node, const ruphin_addr *to, const uint8_t *data,
                          const size_t *lens, size_t count, size_t *sent)
{
    size_t done = 0, off = 0;
    int rc;
    if (sent != NULL)
        *sent = 0;
    if (node == NULL || (lens == NULL && count > 0))
        return RUPHIN_ERR_INVALID;
    if (count == 0)
        return RUPHIN_OK;
    rc = payload_check(node, data, lens[0]); /* the first datagram's error, as ruphin_send's */
    if (rc == RUPHIN_OK)
        rc = destination_check(node, to);
    if (rc == RUPHIN_OK)
        rc = data_queue_ready(node);
    while (rc == RUPHIN_OK && done < count) {
        int queue_error, send_error;
        size_t queued = queue_data(node, to, data, &off, lens + done, count - done, &queue_error);
        size_t out = flush_data(node, &send_error);
        done += out;
        rc = out < queued ? send_error : queue_error;
    }
    if (sent != NULL)
        *sent = done;
    return rc;
}

/* ---- waking, event-loop integration, introspection ---- */

int32_t ruphin_wake(ruphin_node *node)
{
    uint8_t frame[RP_HEADER_LEN];
    ruphin_addr target;
    size_t len;

    if (node == NULL)
        return RUPHIN_ERR_INVALID;
    if (!node->cfg.allow_interrupt)
        return RUPHIN_ERR_NOT_SUPPORTED;
    /* Only fields fixed at creation are read here: safe from any thread. */
    target = node->sock.local;
    if (rp_addr_is_any(&target)) {
        memset(target.ip, 0, sizeof target.ip);
        if (target.family == 4)
            target.ip[0] = 127, target.ip[3] = 1;
        else
            target.ip[15] = 1;
    }
    len = rp_wire_encode_empty(frame, sizeof frame, RP_FRAME_LOCAL_INTERRUPT);
    return rp_sock_send_once(&target, frame, len);
}

int64_t ruphin_fd(const ruphin_node *node)
{
    return node == NULL ? RUPHIN_ERR_INVALID : (int64_t)node->sock.fd;
}

int32_t ruphin_timeout_ms(const ruphin_node *node)
{
    int64_t deadline = ruphin_deadline(node), now;
    if (deadline == RUPHIN_NO_DEADLINE)
        return -1;
    now = rp_clock_ms();
    if (deadline <= now)
        return 0;
    return deadline - now > INT32_MAX ? INT32_MAX : (int32_t)(deadline - now);
}

int32_t ruphin_role(const ruphin_node *node)
{
    return node == NULL ? RUPHIN_ERR_INVALID : node->role;
}

int32_t ruphin_local_addr(const ruphin_node *node, ruphin_addr *out)
{
    if (node == NULL || out == NULL)
        return RUPHIN_ERR_INVALID;
    *out = node->sock.local;
    return RUPHIN_OK;
}

int32_t ruphin_peer_addr(const ruphin_node *node, ruphin_addr *out)
{
    if (node == NULL || out == NULL)
        return RUPHIN_ERR_INVALID;
    if (node->role != RUPHIN_ROLE_CLIENT)
        return RUPHIN_ERR_NOT_SUPPORTED;
    if (node->m.client.server.family == 0)
        return RUPHIN_ERR_NOT_CONNECTED;
    *out = node->m.client.server;
    return RUPHIN_OK;
}

int64_t ruphin_stat(const ruphin_node *node, int32_t stat)
{
    if (node == NULL || stat < 0 || stat >= RUPHIN_STAT_COUNT)
        return RUPHIN_ERR_INVALID;
    if (stat == RUPHIN_STAT_SESSIONS)
        return node->role == RUPHIN_ROLE_HOLEPUNCHER ? node->m.holepuncher.sessions.count : 0;
    if (stat == RUPHIN_STAT_PEERS) {
        if (node->role == RUPHIN_ROLE_SERVER)
            return rp_server_connected_count(&node->m.server);
        return node->role == RUPHIN_ROLE_CLIENT &&
               rp_client_public_state(&node->m.client) == RUPHIN_STATE_CONNECTED;
    }
    return node->stats[stat];
}

int64_t rp_node_max_payload(const ruphin_node *node)
{
    return node->cfg.max_payload;
}

bool rp_node_can_wake(const ruphin_node *node)
{
    return node->cfg.allow_interrupt;
}
