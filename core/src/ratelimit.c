/* Per-address rate limits; see ratelimit.h. */
#include "ratelimit.h"

#include <stdlib.h>

int rp_ratelimit_init(rp_ratelimit *r, int64_t limit, uint64_t seed)
{
    r->limit = (uint32_t)limit;
    r->seed = seed;
    r->slots = NULL;
    if (limit == 0)
        return RUPHIN_OK;
    r->slots = calloc(RP_RATE_SLOTS, sizeof *r->slots);
    return r->slots ? RUPHIN_OK : RUPHIN_ERR_NOMEM;
}

void rp_ratelimit_free(rp_ratelimit *r)
{
    free(r->slots);
    r->slots = NULL;
}

static uint32_t slot_of(const rp_ratelimit *r, const ruphin_addr *a)
{
    uint64_t h = r->seed ^ ((uint64_t)a->port << 32) ^ a->family;
    size_t i, n = a->family == 4 ? 4 : 16;
    for (i = 0; i < n; i++) {
        h ^= a->ip[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)(h % RP_RATE_SLOTS);
}

bool rp_ratelimit_allow(rp_ratelimit *r, const ruphin_addr *addr, int64_t now)
{
    rp_rate_slot *s;
    uint32_t window = (uint32_t)(now / 1000);
    if (r->slots == NULL)
        return true;
    s = &r->slots[slot_of(r, addr)];
    if (s->window != window) {
        s->window = window;
        s->count = 0;
    }
    if (s->count >= r->limit)
        return false;
    s->count++;
    return true;
}
