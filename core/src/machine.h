/*
 * What the three role state machines share: their configuration, the event
 * queue they fill, the output they send through, timers and counters.
 * State machines never touch a socket or a clock: the caller passes the time
 * (ms, any monotonic origin) and the datagrams, and asks for the next deadline.
 */
#ifndef RUPHIN_MACHINE_H
#define RUPHIN_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/ruphin.h" /* relative: the core compiles without -I */
#include "wire.h"

/* Tunables, already validated (see options.c). Times in ms. */
typedef struct rp_config {
    int64_t keepalive_ms;
    int64_t missed_keepalives;
    int64_t handshake_timeout_ms;
    int64_t retransmit_ms;
    int64_t retransmit_max_ms;
    int64_t punch_interval_ms;
    int64_t max_sessions;
    int64_t max_peers;
    int64_t max_payload;
    bool accept_unverified;
    bool allow_interrupt;
    int64_t socket_buffer;
    bool extensions; /* speak generation 1 with peers that show they do */
    int64_t rate_limit;    /* per address and second; 0 = none */
    int64_t relay_rate;    /* holepuncher: relayed bytes/s per pair; peers: ms before relaying */
    int no_amplification; /* 0 off, 1 default, 2 strict (docs/SECURITY.md) */
    bool sealed;           /* peers: Data sealed with seal_key (seal.h) */
    uint8_t seal_key[32];  /* the shared key; the roles turn it into their session's */
    int64_t workers, worker; /* holepuncher: SO_REUSEPORT group size, this one's index */
    bool session_events;     /* holepuncher: report sessions registered, joined, expired */
    int64_t recovery_timeout_ms; /* peers: how long a lost path is looked for; 0: not at all */
} rp_config;

/* How long a peer or a session may stay silent before it counts as gone. */
int64_t rp_config_silence_limit(const rp_config *cfg);

/* A bounded queue of events. Small payloads (session ids) are copied in;
 * larger ones (Data) point into the datagram being processed, which the
 * driver keeps untouched until the queue is empty. Room for the events of a
 * whole receive batch (64 datagrams, up to 2 events each, node.c), so that
 * a holepuncher that reports every Register and Join still answers a batch
 * with one send call. */
enum { RP_EVENT_QUEUE_LEN = 2 * 64 + 2 };

typedef struct rp_queued_event {
    ruphin_event event;
    /* A session id, or (PATH_RESTORED) an address: aligned for one. */
    union {
        uint8_t inline_data[sizeof(ruphin_addr) > RUPHIN_MAX_SESSION_ID ? sizeof(ruphin_addr)
                                                                        : RUPHIN_MAX_SESSION_ID];
        ruphin_addr inline_addr;
    };
} rp_queued_event;

typedef struct rp_event_queue {
    rp_queued_event slots[RP_EVENT_QUEUE_LEN];
    unsigned head;
    unsigned count;
} rp_event_queue;

/* Where a state machine's output goes. send returns 0 or a ruphin_error;
 * random gives unpredictable 64-bit values (nonces). */
typedef struct rp_output {
    int (*send)(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len);
    uint64_t (*random)(void *ctx);
    void *ctx;
    rp_event_queue *events;
    int64_t *stats; /* RUPHIN_STAT_COUNT counters */
    /* send with an IP TTL (hop limit) of its own; NULL: send as usual. */
    int (*send_ttl)(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len, int ttl);
    /* The host's local addresses now (up to max; how many); NULL: none.
     * Asked again when a path is lost: the host may have moved. */
    size_t (*local_addresses)(void *ctx, ruphin_addr *out, size_t max);
} rp_output;

bool rp_events_full(const rp_event_queue *q);
bool rp_events_empty(const rp_event_queue *q);
unsigned rp_events_room(const rp_event_queue *q);
/* Queues an event; when the queue is full the event is dropped and counted. */
void rp_emit(const rp_output *out, int32_t type, int32_t error, const ruphin_addr *peer,
             const uint8_t *data, size_t len);
/* Takes the oldest event; *storage keeps its inline data alive for the caller. */
bool rp_events_pop(rp_event_queue *q, rp_queued_event *storage, ruphin_event *event);

/* Sends one frame and counts it. */
int rp_send_frame(const rp_output *out, const ruphin_addr *to, const uint8_t *frame, size_t len);
/* Sends one frame that dies after ttl routers (see RP_LOW_TTL). */
int rp_send_frame_ttl(const rp_output *out, const ruphin_addr *to, const uint8_t *frame,
                      size_t len, int ttl);
/* Encodes and sends a frame with no payload (HelloReq, HelloResp). */
int rp_send_empty(const rp_output *out, const ruphin_addr *to, uint16_t type);
/* Encodes and sends a frame that carries a session id. */
int rp_send_session(const rp_output *out, const ruphin_addr *to, uint16_t type,
                    const uint8_t *id, size_t id_len);

/* Asks a holepuncher whether it speaks generation 1 (wire.h). */
int rp_send_probe(const rp_output *out, const ruphin_addr *holepuncher);

void rp_count(const rp_output *out, ruphin_stat_id stat);
/* Adds n to a counter (bytes). */
void rp_count_add(const rp_output *out, ruphin_stat_id stat, int64_t n);

/* Deadlines are absolute ms; RUPHIN_NO_DEADLINE (-1) means none. */
int64_t rp_earliest(int64_t a, int64_t b);
bool rp_due(int64_t deadline, int64_t now);

/* A retransmission timer with exponential backoff. */
typedef struct rp_retry {
    int64_t next;     /* when to send again; RUPHIN_NO_DEADLINE when stopped */
    int64_t interval; /* current gap */
} rp_retry;

void rp_retry_start(rp_retry *r, int64_t now, const rp_config *cfg);
void rp_retry_backoff(rp_retry *r, int64_t now, const rp_config *cfg);
void rp_retry_stop(rp_retry *r);

/*
 * Port scan of a peer's public address: the "birthday" fallback against a
 * NAT that maps a new random port per destination (Linux --random-fully).
 * Such a NAT opens, for our address, a port we cannot learn; the peer's
 * own hellos keep that mapping alive, and one probe of ours to that port
 * gets through. Probes go out in paced batches, to ports ever further from
 * the announced one (first the neighbours, which a NAT allocating ports in
 * sequence hands out next), over the whole range of ports NATs map to,
 * for at most RP_SCAN_PASSES passes.
 */
enum {
    RP_SCAN_FIRST_PORT = 1024, /* Linux NAT maps ports >= 1024 within 1024..65535 */
    RP_SCAN_PORTS = 65536 - RP_SCAN_FIRST_PORT,
    RP_SCAN_BATCH = 96,        /* probes per batch ... */
    RP_SCAN_GAP_MS = 4,        /* ... every 4 ms: 24000 per second, a pass in 2.7 s */
    RP_SCAN_MAX_LATE = 4,      /* batches made up for when the caller ticks late */
    RP_SCAN_PASSES = 2,
    RP_SCAN_QUIET_MS = 60000,  /* server: after a scan that found nobody (server.c) */
    /* A first punch that opens our own NAT but dies before the peer's
     * router: host, our NAT (or two of them), then the internet. */
    RP_LOW_TTL = 3,
    RP_LOW_TTL_PUNCHES = 5,    /* of a server's to a generation-0 client (server.c) */
    RP_CONFIRM_HELLOS = 8      /* a server's to a client it connected, until heard (server.c) */
};

typedef struct rp_scan {
    ruphin_addr target; /* the peer as announced: its address, and the port to start from */
    int64_t next;       /* next batch; RUPHIN_NO_DEADLINE when not scanning */
    uint32_t sent;      /* probes sent so far */
} rp_scan;

/* How long peers punch before they also scan the other's ports. */
int64_t rp_scan_delay(const rp_config *cfg);
/* How long one pass of a scan takes. */
int64_t rp_scan_pass_ms(void);
/* Whether a scan of this address makes sense (IPv4, not loopback: IPv6
 * needs no NAT, loopback has none). */
bool rp_scan_possible(const ruphin_addr *target);
void rp_scan_start(rp_scan *s, const ruphin_addr *target, int64_t when);
void rp_scan_stop(rp_scan *s);
bool rp_scan_running(const rp_scan *s);
/* Sends the probes (frame) due at now; stops once every pass is done. */
void rp_scan_tick(rp_scan *s, const rp_output *out, int64_t now, const uint8_t *frame,
                  size_t len);
/* The port of probe number i (exposed for tests). */
uint16_t rp_scan_port(uint16_t center, uint32_t i);

/*
 * Path recovery (docs/PROTOCOL.md): whether a connected generation-1 peer
 * still answers. It is heard at least once a keepalive interval (the
 * client's keepalives and the server's answers); when it was not for a
 * keepalive and a probe gap, or for two gaps after we sent it Data (an
 * application that talks expects answers sooner), probes go out, one a gap;
 * RP_PATH_PROBES unanswered mean the path is lost.
 */
enum { RP_PATH_PROBES = 3 };

typedef struct rp_watch {
    int64_t unanswered; /* first Data sent since the peer was last heard; -1: none */
    int64_t next_probe; /* probing: when the next probe (or the verdict) is due; -1: not */
    uint8_t probes;     /* probes sent in this round */
} rp_watch;

typedef enum rp_watch_action {
    RP_WATCH_QUIET, /* nothing to do */
    RP_WATCH_PROBE, /* send a probe now */
    RP_WATCH_LOST   /* the path is lost (the watch starts over) */
} rp_watch_action;

/* The gap between probes: a quarter of the keepalive, at least a punch interval. */
int64_t rp_probe_gap(const rp_config *cfg);
/* The longest gap between a recovering peer's Joins (their backoff stops there). */
int64_t rp_recovery_retry_max(const rp_config *cfg);
/* The peer was heard: all is well. */
void rp_watch_reset(rp_watch *w);
/* We sent the peer Data at now (or about then). */
void rp_watch_sent(rp_watch *w, int64_t now);
rp_watch_action rp_watch_tick(rp_watch *w, const rp_config *cfg, int64_t last_heard,
                              int64_t now);
int64_t rp_watch_deadline(const rp_watch *w, const rp_config *cfg, int64_t last_heard);

#endif
