/*
 * Per-address rate limits with bounded memory: a fixed table of one-second
 * windows indexed by a keyed hash of the address. No address is stored, so a
 * flood from spoofed sources cannot grow it; two addresses that share a slot
 * share a budget (with 65536 slots, rarely).
 */
#ifndef RUPHIN_RATELIMIT_H
#define RUPHIN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "../include/ruphin.h" /* relative: the core compiles without -I */

/* The fuzzers build a holepuncher for every input and define fewer. */
#ifndef RP_RATE_SLOTS
#define RP_RATE_SLOTS 65536
#endif

typedef struct rp_rate_slot {
    uint32_t window; /* the second (ms / 1000, low 32 bits) the count belongs to */
    uint32_t count;
} rp_rate_slot;

typedef struct rp_ratelimit {
    rp_rate_slot *slots; /* NULL when limits are off */
    uint64_t seed;
    uint32_t limit;
} rp_ratelimit;

/* limit per second; 0 disables (and allocates nothing). */
int rp_ratelimit_init(rp_ratelimit *r, int64_t limit, uint64_t seed);
void rp_ratelimit_free(rp_ratelimit *r);
/* Counts one event for addr at time now (ms); false when over the limit. */
bool rp_ratelimit_allow(rp_ratelimit *r, const ruphin_addr *addr, int64_t now);

#endif
