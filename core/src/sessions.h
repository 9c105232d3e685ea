/*
 * The holepuncher's session table: session id -> owner address, with expiry.
 *
 * Compact by design (a public holepuncher may hold millions of sessions):
 * records live in one array; an open-addressing index (linear probing, two
 * slots per record of room) finds an id; a FIFO list ordered by expiry time
 * finds what expires next, so expiring costs work proportional to what
 * expires. Memory latency is what a large table costs, so the index is
 * built to touch few cache lines: a slot is 4 bytes holding the record's
 * link, its distance from its home slot and a few more bits of the id's
 * hash (a tag), so that a lookup reads one line of slots and only the
 * record whose tag matches, a new id none, and removing or moving a record
 * reads no other record (docs/PERFORMANCE.md). The index grows and shrinks
 * incrementally: a resize allocates the new index and every later add or
 * remove moves a few records into it, so no request waits while millions
 * of records are reindexed; a doubling's index is made ahead, its pages
 * faulted in over the adds before it, so that no request waits while they
 * all fault at once either. All sessions share one lifetime, so "refresh"
 * means "move to the newest end" and the list stays sorted. A removed
 * record's place is vacant until a new record takes it, the longest vacant
 * first: while as many sessions come as go, the array then stays in expiry
 * order, and removing one moves no other record. Below half full, removals
 * also move the array's last records into vacant places, so that it fits
 * in half its room by the time it is a quarter full and shrinks.
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
    uint32_t older, newer; /* in the expiry list, or the vacant places' */
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

/* Slots of the index: 0 is empty, else a record's index plus one (its
 * link) in the low link_bits, then its distance from its home slot (the
 * id's hash masked; up to 4 bits, saturating at dist_max), then from
 * tag_shift on as many more bits of the id's hash as are left (the tag). */
typedef struct rp_session_index {
    uint32_t *slots; /* mask + 1 of them, twice the records' capacity */
    uint32_t mask;
    uint8_t link_bits, tag_shift;           /* where the distance and the tag start */
    uint32_t link_mask, dist_max, tag_mask; /* each field's bits, shifted down */
} rp_session_index;

/* Records linked through their older and newer fields: the sessions in
 * expiry order (first the oldest), or the vacant places (first the one
 * vacated longest ago). */
typedef struct rp_session_list {
    uint32_t first, last;
} rp_session_list;

typedef struct rp_sessions {
    rp_session *items;
    uint32_t count;    /* sessions */
    uint32_t used;     /* places from the array's start that hold a record or are vacant */
    uint32_t capacity, limit;
    rp_session_index index;
    /* While a resize is in progress, the index it replaces, which still
     * holds the records from `migrated` up to `old_limit` (the capacity it
     * was made for); its slots for records below `migrated` are stale, and
     * it marks removals with a tombstone link instead of moving slots. */
    rp_session_index old; /* slots NULL: no move in progress */
    uint32_t migrated, old_limit;
    uint32_t ops; /* adds and removes, to pace the move */
    /* The index the next doubling will use, while its pages are faulted in
     * over the adds before it (NULL: none yet), and how many of its bytes
     * are resident so far. */
    uint32_t *next_slots;
    size_t next_ready;
    rp_session_list live, vacant;
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
 * of a batch with round 0 (fetches the home slot's line; reads no id), then
 * again with round 1 (the first record whose tag matches: the id's, but for
 * one in a hundred), then with round 2: when that record has the id and
 * refresh is set, its neighbours in the expiry list, which a refresh
 * relinks. */
enum { RP_SESSIONS_PREFETCH_ROUNDS = 3 };
void rp_sessions_prefetch(const rp_sessions *t, uint32_t hash, const uint8_t *id, size_t id_len,
                          int refresh, int round);
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
/* Removes the sessions expired by now, oldest first, in batches of up to
 * RP_SESSIONS_EXPIRE_BATCH whose cache misses overlap and whose ids are
 * hashed once each. visit, unless NULL, sees each session just before it
 * goes and may keep it (and end the expiry there) by returning nonzero; it
 * must not change the table. Returns how many sessions went. */
enum { RP_SESSIONS_EXPIRE_BATCH = 32 };
typedef int (*rp_session_visit)(void *ctx, const rp_session *s);
uint32_t rp_sessions_expire(rp_sessions *t, int64_t now, rp_session_visit visit, void *ctx);

void rp_session_owner(const rp_session *s, ruphin_addr *out);
int rp_session_owned_by(const rp_session *s, const ruphin_addr *addr);
/* The owner's address moves (ownership proven by its token). */
void rp_session_move(rp_session *s, const ruphin_addr *owner);
int rp_session_flag(const rp_session *s, uint8_t flag);
void rp_session_set_flag(rp_session *s, uint8_t flag, int on);
/* 1 when the expiry time has come (wrap-safe against now's low 32 bits). */
int rp_session_expired(const rp_session *s, int64_t now);

#endif
