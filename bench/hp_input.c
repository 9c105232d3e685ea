/* The holepuncher's state machine alone, without sockets: user-space CPU
 * time per request with K sessions in the table, batches of B requests
 * decoded, prefetched and handled as the node does (node.c). It isolates
 * what the request path costs in memory latency and instructions from the
 * kernel's share, which bench/run.py measures with everything.
 *
 * Usage: hp_input MODE [BATCH [SESSIONS [REQUESTS]]]
 *   MODE: refresh (Registers of live ids, their owner's), join (found),
 *         join-miss, register (new ids), register-level (new ids while as
 *         many expire: the clock runs so that a session lives SESSIONS
 *         requests). Defaults: 16, 1000000, 3000000.
 * Prints one JSON line: ns (CPU) per request (frames encoded in the loop
 * too), and the longest batch's wall time: the longest pause a server would
 * make (a growing table's page faults, a resize). */
#define _POSIX_C_SOURCE 200809L
#include "options.h"
#include "roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ID_LEN = 12, MAX_BATCH = 64 };

static rp_event_queue events;
static int64_t stats[RUPHIN_STAT_COUNT];

static int discard(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len)
{
    (void)ctx, (void)to, (void)frame, (void)len;
    return 0;
}

static uint64_t next_random(void *ctx)
{
    static uint64_t x = 88172645463325252ull;
    (void)ctx;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x | 1;
}

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

/* The load generator's ids: 's' and 11 digits. */
static void session_id(long long n, uint8_t *id)
{
    int i;
    id[0] = 's';
    for (i = ID_LEN - 1; i > 0; i--, n /= 10)
        id[i] = (uint8_t)('0' + n % 10);
}

static const ruphin_addr OWNER = {4, 0, 4000, 0, {127, 0, 0, 1}};
static const ruphin_addr JOINER = {4, 0, 5000, 0, {127, 0, 0, 1}};

/* Request i of the mode: its type and id number. */
static uint16_t request(const char *mode, long long sessions, long long i, long long *n)
{
    uint64_t r = (uint64_t)i * 6364136223846793005ull + 1442695040888963407ull;
    *n = (long long)((r >> 20) % (uint64_t)sessions);
    if (strcmp(mode, "join-miss") == 0)
        *n += 900000000LL;
    else if (strncmp(mode, "register", 8) == 0)
        *n = sessions + i;
    return strncmp(mode, "join", 4) == 0 ? RP_FRAME_JOIN : RP_FRAME_REGISTER;
}

/* register-level's clock at request i: a session's lifetime takes
 * `sessions` requests, so that as many expire as come. */
static int64_t request_time(long long i, long long sessions, int64_t life_ms)
{
    return (int64_t)(i * life_ms / sessions);
}

int main(int argc, char **argv)
{
    static uint8_t bufs[MAX_BATCH][64];
    rp_frame frames[MAX_BATCH];
    rp_output out = {discard, next_random, NULL, &events, stats, NULL, NULL};
    rp_holepuncher hp;
    rp_config cfg;
    const char *mode = argc > 1 ? argv[1] : "";
    int batch = argc > 2 ? atoi(argv[2]) : 16, round, j, level;
    int64_t life_ms;
    long long sessions = argc > 3 ? atoll(argv[3]) : 1000000;
    long long requests = argc > 4 ? atoll(argv[4]) : 3000000, i, n;
    uint8_t id[ID_LEN];
    double start, longest_batch = 0;
    if (strcmp(mode, "refresh") && strcmp(mode, "join") && strcmp(mode, "join-miss") &&
        strcmp(mode, "register") && strcmp(mode, "register-level")) {
        fprintf(stderr,
                "usage: hp_input refresh|join|join-miss|register|register-level [B [K [N]]]\n");
        return 2;
    }
    batch = batch < 1 ? 1 : batch > MAX_BATCH ? MAX_BATCH : batch;
    sessions = sessions < 1 ? 1 : sessions;
    rp_config_from_options(&cfg, NULL);
    cfg.max_sessions = sessions + requests + 1;
    cfg.rate_limit = 0;
    level = strcmp(mode, "register-level") == 0;
    cfg.keepalive_ms = level ? 1000 : 600000; /* (level) see request_time */
    life_ms = cfg.keepalive_ms * cfg.missed_keepalives;
    cfg.no_amplification = 1;
    cfg.session_events = 0; /* as hp_serve, which stands for `ruphin holepuncher --quiet` */
    if (rp_holepuncher_init(&hp, &cfg, &out, 42) != RUPHIN_OK)
        return 1;
    for (i = 0; i < sessions; i++) {
        session_id(i, id);
        rp_wire_decode(bufs[0], rp_wire_encode_session(bufs[0], 64, RP_FRAME_REGISTER, id, ID_LEN),
                       &frames[0]);
        rp_holepuncher_input(&hp, level ? request_time(i, sessions, life_ms) : 1, &OWNER,
                             &frames[0]);
        events.count = events.head = 0; /* events are not what is measured */
    }
    start = cpu_seconds();
    for (i = 0; i < requests; i += batch) {
        int64_t now = level ? request_time(sessions + i, sessions, life_ms) : 2 + i / 1000;
        double batch_start = clock_seconds(CLOCK_MONOTONIC), took;
        if (level)
            rp_holepuncher_tick(&hp, now); /* as the node does before each batch */
        for (j = 0; j < batch; j++) {
            uint16_t type = request(mode, sessions, i + j, &n);
            session_id(n, id);
            rp_wire_decode(bufs[j], rp_wire_encode_session(bufs[j], 64, type, id, ID_LEN),
                           &frames[j]);
        }
        for (round = 0; round < RP_SESSIONS_PREFETCH_ROUNDS; round++)
            for (j = 0; j < batch; j++)
                rp_holepuncher_prefetch(&hp, &frames[j], round);
        for (j = 0; j < batch; j++)
            rp_holepuncher_input(&hp, now,
                                 frames[j].type == RP_FRAME_JOIN ? &JOINER : &OWNER, &frames[j]);
        events.count = events.head = 0;
        took = clock_seconds(CLOCK_MONOTONIC) - batch_start;
        longest_batch = took > longest_batch ? took : longest_batch;
    }
    printf("{\"mode\": \"%s\", \"batch\": %d, \"sessions\": %lld, \"requests\": %lld, "
           "\"ns_per_request\": %.1f, \"longest_batch_ms\": %.3f, \"live\": %u, "
           "\"sent\": %lld}\n",
           mode, batch, sessions, (i / batch) * batch,
           (cpu_seconds() - start) * 1e9 / (double)((i / batch) * batch), longest_batch * 1e3,
           hp.sessions.count,
           (long long)stats[RUPHIN_STAT_TX_DATAGRAMS]);
    rp_holepuncher_free(&hp);
    return 0;
}
