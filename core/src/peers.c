/*
 * The server's table of clients, keyed by address: a dense array of peers
 * plus an open-addressing index (linear probing, backward-shift deletion) so
 * that a Data datagram finds its peer in O(1) however many clients there are.
 */
#include "roles.h"
#include "addr.h"

#include <stdlib.h>
#include <string.h>

enum { MIN_CAPACITY = 8 };

static uint32_t hash_addr(const ruphin_addr *a)
{
    uint32_t h = 2166136261u;
    size_t i, ip_len = a->family == 4 ? 4 : 16;
    for (i = 0; i < ip_len; i++)
        h = (h ^ a->ip[i]) * 16777619u;
    h = (h ^ a->port) * 16777619u;
    h ^= h >> 15;
    return h;
}

/* The index slot that holds addr, or the empty slot where it would go. */
static uint32_t find_slot(const rp_peer_table *t, const ruphin_addr *addr)
{
    uint32_t slot = hash_addr(addr) & t->index_mask;
    while (t->index[slot] != 0 && !rp_addr_same(&t->items[t->index[slot] - 1].addr, addr))
        slot = (slot + 1) & t->index_mask;
    return slot;
}

static int resize(rp_peer_table *t, uint32_t capacity)
{
    uint32_t nslots = capacity * 2, i;
    rp_peer *items = realloc(t->items, (size_t)capacity * sizeof *items);
    uint32_t *index;
    if (items == NULL)
        return RUPHIN_ERR_NOMEM;
    t->items = items;
    index = calloc(nslots, sizeof *index);
    if (index == NULL)
        return RUPHIN_ERR_NOMEM;
    free(t->index);
    t->index = index;
    t->index_mask = nslots - 1;
    t->capacity = capacity;
    for (i = 0; i < t->count; i++)
        t->index[find_slot(t, &t->items[i].addr)] = i + 1;
    return RUPHIN_OK;
}

int rp_peers_init(rp_peer_table *t)
{
    memset(t, 0, sizeof *t);
    return resize(t, MIN_CAPACITY);
}

void rp_peers_free(rp_peer_table *t)
{
    free(t->items);
    free(t->index);
    memset(t, 0, sizeof *t);
}

rp_peer *rp_peers_find(const rp_peer_table *t, const ruphin_addr *addr)
{
    uint32_t pos = t->index[find_slot(t, addr)];
    return pos ? &t->items[pos - 1] : NULL;
}

rp_peer *rp_peers_add(rp_peer_table *t, const ruphin_addr *addr)
{
    rp_peer *p;
    if (t->count == t->capacity && resize(t, t->capacity * 2) != RUPHIN_OK)
        return NULL;
    p = &t->items[t->count++];
    memset(p, 0, sizeof *p);
    p->addr = *addr;
    t->index[find_slot(t, addr)] = t->count;
    return p;
}

/* Empties slot and shifts later entries of its probe run back into the gap,
 * so that lookups never stop early at a hole. */
static void index_delete(rp_peer_table *t, uint32_t slot)
{
    uint32_t next = slot;
    for (;;) {
        uint32_t home;
        t->index[slot] = 0;
        for (;;) {
            next = (next + 1) & t->index_mask;
            if (t->index[next] == 0)
                return;
            home = hash_addr(&t->items[t->index[next] - 1].addr) & t->index_mask;
            /* Move the entry back unless its home lies cyclically in (slot, next]. */
            if (slot <= next ? (home <= slot || home > next) : (home <= slot && home > next))
                break;
        }
        t->index[slot] = t->index[next];
        slot = next;
    }
}

void rp_peers_remove(rp_peer_table *t, rp_peer *p)
{
    uint32_t pos = (uint32_t)(p - t->items);
    uint32_t last = t->count - 1;

    index_delete(t, find_slot(t, &p->addr));
    if (pos != last) {
        t->index[find_slot(t, &t->items[last].addr)] = pos + 1;
        t->items[pos] = t->items[last];
    }
    t->count--;
}
