/*
 * The holepuncher's session table: session id -> owner address, with expiry.
 *
 * Compact by design (a public holepuncher may hold millions of sessions):
 * records live in one array and refer to each other by index; a hash index
 * (chained through the records, each chain in the order its records came, so
 * that the next to expire is usually first in its chain and its removal does
 * not walk cold records) finds an id; a FIFO list ordered by expiry
 * time finds what expires next, so expiring costs work proportional to what
 * expires. The index grows and shrinks incrementally: a resize allocates the
 * new bucket array and every later add or remove moves a few old buckets
 * into it, so no request waits while millions of records are relinked. All sessions share one lifetime, so "refresh" means "move to the
 * newest end" and the list stays sorted. Removal swaps the last record into
 * the hole, so the array stays dense and shrinks as sessions expire.
 */
#ifndef RUPHIN_SESSIONS_H
#define RUPHIN_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "../include/ruphin.h" /* relative: the core compiles without -I */

typedef struct rp_session {
    uint8_t id[RUPHIN_MAX_SESSION_ID];
    uint8_t id_len;
    uint8_t family; /* owner address family, plus RP_SESSION_OWNER_EXT */
    uint16_t port;
    uint8_t ip[16];
    uint32_t expires; /* low 32 bits of the ms clock; compared wrap-safe */
    uint32_t older, newer; /* expiry list */
    uint32_t chain;        /* next record in the same hash bucket, plus one (0: none) */
} rp_session;

/* Flags kept in the family byte (the record has no byte to spare, and the
 * memory budget per session has no room for more: docs/PERFORMANCE.md). */
enum {
    RP_SESSION_OWNER_EXT = 0x80, /* registered with RegisterExt: speaks generation 1 */
    RP_SESSION_CLAIMED = 0x40,   /* registered with a proof: refreshed only with its token */
    RP_SESSION_PROVEN = 0x20,    /* the owner echoed a cookie from its current address */
    RP_SESSION_NO_NAT = 0x10,    /* the owner's address is one of its local ones */
    RP_SESSION_PORT_KEPT = 0x08, /* one of the owner's local addresses has its port */
    RP_SESSION_FAMILY_MASK = 0x07
};

typedef struct rp_sessions {
    rp_session *items;
    uint32_t count, capacity, limit;
    /* Hash index: first record per bucket, plus one (0: none), so that a
     * fresh zeroed mapping is an empty index. */
    uint32_t *buckets; /* bucket_mask + 1 of them */
    uint32_t bucket_mask;
    /* While a resize is in progress, the index it replaces: an id whose old
     * bucket is below `migrated` is in `buckets`, any other still here. */
    uint32_t *old_buckets; /* old_mask + 1 of them, or NULL */
    uint32_t old_mask, migrated;
    uint32_t ops; /* adds and removes, to pace the move */
    uint32_t oldest, newest;
    uint64_t seed;
} rp_sessions;

/* limit: most sessions held at once. seed: keys the hash against flooding. */
int rp_sessions_init(rp_sessions *t, uint32_t limit, uint64_t seed);
void rp_sessions_free(rp_sessions *t);

rp_session *rp_sessions_find(const rp_sessions *t, const uint8_t *id, size_t id_len);
/* The table's hash of an id, for the _hashed calls: a request's lookups
 * (announced twice, then made, then maybe an add) hash its id once. */
uint32_t rp_sessions_hash(const rp_sessions *t, const uint8_t *id, size_t id_len);
rp_session *rp_sessions_find_hashed(const rp_sessions *t, uint32_t hash, const uint8_t *id,
                                    size_t id_len);
/* A lookup of the id with this hash about to happen, announced so that its
 * cache misses can overlap with those of other lookups: call it for every id
 * of a batch with round 0 (fetches the bucket), then again with round 1 (its
 * first record; neither round reads id or refresh), then with round 2: the chain's second record when the first
 * is another id's (a lookup that misses reads it; about a quarter of chains
 * are that long), or when it is this id's, and refresh is set, that record's
 * neighbours in the expiry list, which a refresh relinks. */
enum { RP_SESSIONS_PREFETCH_ROUNDS = 3 };
void rp_sessions_prefetch(const rp_sessions *t, uint32_t hash, const uint8_t *id, size_t id_len,
                          int refresh, int round);
/* Removals of expired sessions about to happen, announced like lookups:
 * the buckets and then the chains' first records of up to
 * RP_SESSIONS_EXPIRE_BATCH sessions from the oldest on, as far as they have
 * expired by now, and of as many records from the array's end, which the
 * removals move into their slots: removing each one reads both. */
enum { RP_SESSIONS_EXPIRE_BATCH = 32 };
void rp_sessions_prefetch_expired(const rp_sessions *t, int64_t now);
/* Adds a new id (not present). NULL when the table is full or memory ran out;
 * *full tells which. */
rp_session *rp_sessions_add(rp_sessions *t, const uint8_t *id, size_t id_len,
                            const ruphin_addr *owner, uint32_t expires, int *full);
rp_session *rp_sessions_add_hashed(rp_sessions *t, uint32_t hash, const uint8_t *id,
                                   size_t id_len, const ruphin_addr *owner, uint32_t expires,
                                   int *full);
/* Sets a new expiry time (later than every other) and moves it to the newest end. */
void rp_sessions_refresh(rp_sessions *t, rp_session *s, uint32_t expires);
/* The session that expires first, or NULL. */
rp_session *rp_sessions_oldest(const rp_sessions *t);
/* Removes s; pointers to records are invalid afterwards. */
void rp_sessions_remove(rp_sessions *t, rp_session *s);

void rp_session_owner(const rp_session *s, ruphin_addr *out);
int rp_session_owned_by(const rp_session *s, const ruphin_addr *addr);
/* The owner's address moves (ownership proven by its token). */
void rp_session_move(rp_session *s, const ruphin_addr *owner);
int rp_session_flag(const rp_session *s, uint8_t flag);
void rp_session_set_flag(rp_session *s, uint8_t flag, int on);
/* 1 when the expiry time has come (wrap-safe against now's low 32 bits). */
int rp_session_expired(const rp_session *s, int64_t now);

#endif
