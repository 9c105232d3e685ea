/*
 * Shared pieces of the state-machine fuzzers. The fuzz input is a script of
 * steps; each step either advances the clock and ticks the machine, or
 * delivers a datagram (arbitrary bytes) from one of a few addresses, one of
 * which is the holepuncher, or (flag bit 3) has the peer's application send
 * those bytes as Data (a server: to that address). At the end the peer is
 * stopped, as ruphin_close does. After every step the harness checks invariants
 * that must hold whatever the input:
 *   - every frame a machine sends decodes as well-formed;
 *   - after a tick, the next deadline is in the future (else a poll loop
 *     would spin), unless the event queue is full;
 *   - the event queue never overflows silently (drops are counted).
 */
#ifndef RUPHIN_FUZZ_HARNESS_H
#define RUPHIN_FUZZ_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "roles.h"

static rp_event_queue fuzz_queue;
static int64_t fuzz_stats[RUPHIN_STAT_COUNT];

static const ruphin_addr fuzz_sources[4] = {
    {4, 0, 47470, 0, {203, 0, 113, 1}}, /* the holepuncher */
    {4, 0, 4000, 0, {198, 51, 100, 2}},
    {4, 0, 5000, 0, {192, 0, 2, 3}},
    {6, 0, 6000, 0, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}},
};

/* What the machine did with one input, for fuzz/replay.c's verdicts (the
 * fuzzers check nothing here): frames sent, events queued, and a digest of
 * them all (addresses, bytes, event fields), which two builds of the same
 * code must agree on. */
static struct {
    uint64_t sent, events, digest;
} fuzz_trace;

/* FNV-1a: small and the same on every platform. */
static void fuzz_digest(const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    while (len-- > 0)
        fuzz_trace.digest = (fuzz_trace.digest ^ *p++) * 0x100000001b3u;
}

/* Field by field, never the struct: its padding is not data. */
static void fuzz_digest_addr(const ruphin_addr *a)
{
    uint64_t fields[3] = {a->family, a->port, a->scope_id};
    fuzz_digest(fields, sizeof fields);
    fuzz_digest(a->ip, sizeof a->ip);
}

static int fuzz_send(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len)
{
    rp_frame f;
    (void)ctx;
    if (to->family != 4 && to->family != 6)
        abort();
    if (rp_wire_decode(frame, len, &f) != RP_WIRE_OK)
        abort();
    fuzz_trace.sent++;
    fuzz_digest_addr(to);
    fuzz_digest(frame, len);
    return 0;
}

/* Small nonces, so that fuzz inputs can hit them. The count runs on from
 * one input to the next; fuzz/replay.c resets it before each input so that
 * an input's verdict does not depend on those replayed before it. */
static uint64_t fuzz_nonce;

static uint64_t fuzz_random(void *ctx)
{
    (void)ctx;
    return (++fuzz_nonce % 4) + 1;
}

static rp_output fuzz_output(rp_config *cfg)
{
    rp_output out = {fuzz_send, fuzz_random, NULL, &fuzz_queue, fuzz_stats, NULL, NULL};
    memset(&fuzz_queue, 0, sizeof fuzz_queue);
    memset(fuzz_stats, 0, sizeof fuzz_stats);
    memset(&fuzz_trace, 0, sizeof fuzz_trace);
    fuzz_trace.digest = 0xcbf29ce484222325u; /* FNV-1a's offset basis */
    /* Short timers so that a few clock steps reach every timeout. */
    rp_config_from_options(cfg, NULL);
    cfg->keepalive_ms = 50;
    cfg->handshake_timeout_ms = 300;
    cfg->retransmit_ms = 10;
    cfg->retransmit_max_ms = 40;
    cfg->punch_interval_ms = 5;
    cfg->max_sessions = 8;
    cfg->max_peers = 4;
    cfg->relay_rate = 100; /* holepuncher: bytes/s per pair; peers: ms before relaying */
    cfg->recovery_timeout_ms = 400; /* a lost path is given up within a few steps */
    return out;
}

static void fuzz_drain_events(void)
{
    rp_queued_event storage;
    ruphin_event ev;
    while (rp_events_pop(&fuzz_queue, &storage, &ev)) {
        uint64_t fields[3] = {(uint64_t)ev.type, (uint64_t)ev.error, ev.len};
        if (ev.len > 0 && ev.data == NULL)
            abort();
        fuzz_trace.events++;
        fuzz_digest(fields, sizeof fields);
        fuzz_digest_addr(&ev.peer);
        fuzz_digest(ev.data, ev.len);
    }
}

typedef struct fuzz_step {
    int is_tick;
    int app_send; /* the application sends the datagram's bytes as Data instead */
    int64_t advance;
    const ruphin_addr *from;
    const uint8_t *datagram;
    size_t len;
} fuzz_step;

/* Reads the next step from the script; 0 at the end. */
static int fuzz_next_step(const uint8_t **data, size_t *size, fuzz_step *step)
{
    size_t len;
    if (*size < 3)
        return 0;
    step->is_tick = (*data)[0] & 1;
    step->app_send = ((*data)[0] >> 3) & 1;
    step->from = &fuzz_sources[((*data)[0] >> 1) & 3];
    step->advance = (*data)[1];
    len = (*data)[2];
    *data += 3;
    *size -= 3;
    if (len > *size)
        len = *size;
    step->datagram = *data;
    step->len = len;
    *data += len;
    *size -= len;
    return 1;
}

static void fuzz_check_deadline(int64_t deadline, int64_t now)
{
    if (deadline != RUPHIN_NO_DEADLINE && deadline <= now && !rp_events_full(&fuzz_queue))
        abort();
}

#endif
