/* What the state-machine tests share: a capturing output, a fake clock
 * loop, and helpers to build frames and read events. */
#ifndef RUPHIN_TEST_MACHINE_HARNESS_H
#define RUPHIN_TEST_MACHINE_HARNESS_H

#include "check.h"
#include "options.h"
#include "roles.h"

enum { LOG_LEN = 1 << 18 }; /* room for a whole port scan (rp_scan) */

typedef struct sent_frame {
    ruphin_addr to;
    uint16_t type;
    uint64_t nonce;  /* PeerInfoExt, HelloExt */
    uint8_t flags;
    uint8_t local_count;
    uint64_t token, cookie; /* RegisterExt, RegisterAckExt, Capabilities, JoinExt */
    size_t len;
    int ttl;         /* 0: the socket's own */
    bool join_probe; /* a RegisterAck that is a join probe (local_count: its) */
} sent_frame;

static sent_frame sent[LOG_LEN];
static int nsent;
/* The bytes of the first frames, to hand them to another machine. */
enum { RAW_FRAMES = 256, RAW_LEN = 160 };
static uint8_t sent_raw[RAW_FRAMES][RAW_LEN];
static rp_event_queue queue;
static int64_t stats[RUPHIN_STAT_COUNT];

static const ruphin_addr HP = {4, 0, 47470, 0, {203, 0, 113, 1}};
static const ruphin_addr SERVER = {4, 0, 4000, 0, {198, 51, 100, 2}};
static const ruphin_addr CLIENT = {4, 0, 5000, 0, {192, 0, 2, 3}};
static const ruphin_addr STRANGER = {4, 0, 6000, 0, {192, 0, 2, 99}};

static int nsent_total; /* also those past the log's end */

static int capture_ttl(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len,
                       int ttl)
{
    rp_frame f, join;
    bool join_probe;
    (void)ctx;
    CHECK_EQ(rp_wire_decode(frame, len, &f), RP_WIRE_OK); /* we only ever send valid frames */
    join_probe = rp_wire_decode_join_probe(&f, &join) == 1;
    if (join_probe)
        f.local_count = join.local_count;
    nsent_total++;
    if (nsent < LOG_LEN) {
        sent[nsent].to = *to;
        sent[nsent].type = f.type;
        sent[nsent].nonce = f.nonce;
        sent[nsent].flags = f.flags;
        sent[nsent].local_count = f.local_count;
        sent[nsent].token = f.token;
        sent[nsent].cookie = f.cookie;
        sent[nsent].len = len;
        sent[nsent].ttl = ttl;
        sent[nsent].join_probe = join_probe;
        if (nsent < RAW_FRAMES && len <= RAW_LEN)
            memcpy(sent_raw[nsent], frame, len);
        nsent++;
    }
    return 0;
}

static int capture(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len)
{
    return capture_ttl(ctx, to, frame, len, 0);
}

static uint64_t last_nonce;

static uint64_t counter_nonce(void *ctx)
{
    (void)ctx;
    return ++last_nonce;
}

/* The host's local addresses, as the machines ask for them (rp_output). */
static ruphin_addr local_list[RP_MAX_LOCALS];
static size_t local_count;
static int local_asked;

static size_t test_locals(void *ctx, ruphin_addr *out, size_t max)
{
    size_t i;
    (void)ctx;
    local_asked++;
    for (i = 0; i < local_count && i < max; i++)
        out[i] = local_list[i];
    return i;
}

static rp_output setup(rp_config *cfg)
{
    rp_output out = {capture, counter_nonce, NULL, &queue, stats, capture_ttl, test_locals};
    local_count = 0;
    memset(&queue, 0, sizeof queue);
    memset(stats, 0, sizeof stats);
    nsent = nsent_total = 0;
    rp_config_from_options(cfg, NULL); /* the documented defaults */
    cfg->max_sessions = 3;
    cfg->max_peers = 16;
    cfg->extensions = false; /* generation 0 unless a test turns it on */
    return out;
}

/* Counts frames of type sent to addr since log index from. */
static int count_sent(int from, uint16_t type, const ruphin_addr *to)
{
    int i, n = 0;
    for (i = from; i < nsent; i++)
        n += sent[i].type == type && ruphin_addr_equal(&sent[i].to, to) == 1;
    return n;
}

/* Counts join probes sent to addr since log index from. */
static inline int count_join_probes(int from, const ruphin_addr *to)
{
    int i, n = 0;
    for (i = from; i < nsent; i++)
        n += sent[i].join_probe && ruphin_addr_equal(&sent[i].to, to) == 1;
    return n;
}

/* Pops the next event; type NONE when there is none. */
static ruphin_event pop(void)
{
    static rp_queued_event storage;
    ruphin_event ev;
    memset(&ev, 0, sizeof ev);
    rp_events_pop(&queue, &storage, &ev);
    return ev;
}

/* Decodes n bytes of buf, which must be a valid frame; the frame is valid
 * until the next call (of this or frame_of) and while buf is. */
static rp_frame *decoded(uint8_t *buf, size_t n)
{
    static rp_frame f;
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    return &f;
}

/* Decodes a literal frame; valid until the next call. */
static const rp_frame *frame_of(const char *bytes, size_t len)
{
    static uint8_t buf[64];
    memcpy(buf, bytes, len);
    return decoded(buf, len);
}

static rp_frame peer_info(const ruphin_addr *about)
{
    static uint8_t buf[32];
    rp_frame f;
    size_t n = rp_wire_encode_peer_info(buf, sizeof buf, about);
    rp_wire_decode(buf, n, &f);
    return f;
}

#define FRAME(lit) frame_of(lit, sizeof(lit) - 1)

/* Runs tick at every ms from `from` to `to` (inclusive). */
#define RUN_CLOCK(tick, obj, from, to)                   \
    do {                                                 \
        int64_t t_;                                      \
        for (t_ = (from); t_ <= (to); t_++)              \
            tick((obj), t_);                             \
    } while (0)

#endif
