/* The holepuncher's session table; see sessions.h for the design. */
#include "sessions.h"
#include "bigarray.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX /* end of the expiry list */

enum { MIN_CAPACITY = 64 };

/* Old buckets moved into a resized index per add or remove, on average (a
 * chunk at a time, so that its cache misses overlap). The move must
 * end before the next resize: after a doubling, as many adds come first as
 * there are old buckets (1 per add would do); after a halving, an eighth as
 * many removes (8 per remove would do). A resize that still comes early
 * finishes the move first. */
enum { MIGRATE_STEP = 16, MIGRATE_CHUNK = 64 };

/* Memory latency, not arithmetic, is what a large table costs: prefetching
 * the lines the next steps will touch lets their misses overlap. */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(addr) __builtin_prefetch(addr)
#else
#define PREFETCH(addr) ((void)(addr))
#endif

static uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

static uint32_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* The last 0..7 bytes of an id as one word, in as few loads as possible
 * (two overlapping ones for 4..7 bytes, three single bytes below; with the
 * length mixed in by the caller, no two tails of one length collide). In
 * host byte order: the hash never leaves the process. */
static uint64_t load_tail(const uint8_t *p, size_t n)
{
    if (n >= 4)
        return load32(p) | (uint64_t)load32(p + n - 4) << 32;
    if (n > 0)
        return (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
    return 0;
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xc2b2ae3d27d4eb4full;
    return h ^ h >> 29;
}

static uint32_t hash_id(const rp_sessions *t, const uint8_t *id, size_t len)
{
    /* Keyed by the seed, a word per step (ids are short, and this runs for
     * every request), then a murmur3 finaliser to spread the bits. */
    uint64_t h = t->seed ^ (len * 0x9e3779b97f4a7c15ull);
    for (; len >= 8; id += 8, len -= 8)
        h = mix(h, load64(id));
    h = mix(h, load_tail(id, len));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static uint32_t index_of(const rp_sessions *t, const rp_session *s)
{
    return (uint32_t)(s - t->items);
}

/* Hash links (bucket heads and chain fields) hold a record's index plus one,
 * so that zero, what fresh memory holds, means "none". */
static uint32_t link_of(uint32_t i)
{
    return i + 1;
}

static rp_session *record_at(const rp_sessions *t, uint32_t link)
{
    return &t->items[link - 1];
}

/* The bucket that holds, or will hold, the ids of hash h. */
static uint32_t *bucket_for(const rp_sessions *t, uint32_t h)
{
    if (t->old_buckets != NULL && (h & t->old_mask) >= t->migrated)
        return &t->old_buckets[h & t->old_mask];
    return &t->buckets[h & t->bucket_mask];
}

static uint32_t *bucket_of(const rp_sessions *t, const uint8_t *id, size_t len)
{
    return bucket_for(t, hash_id(t, id, len));
}

static size_t items_size(uint32_t capacity)
{
    return (size_t)capacity * sizeof(rp_session);
}

static size_t buckets_size(uint32_t nbuckets)
{
    return (size_t)nbuckets * sizeof(uint32_t);
}

/* The end of the chain that starts at link (its terminating zero). */
static uint32_t *chain_end(const rp_sessions *t, uint32_t *link)
{
    while (*link != 0)
        link = &record_at(t, *link)->chain;
    return link;
}

/* Relinks every record of old bucket b into the new index, in order. */
static void migrate_bucket(rp_sessions *t, uint32_t b)
{
    uint32_t link = t->old_buckets[b];
    while (link != 0) {
        rp_session *s = record_at(t, link);
        uint32_t next = s->chain;
        s->chain = 0;
        *chain_end(t, &t->buckets[hash_id(t, s->id, s->id_len) & t->bucket_mask]) = link;
        link = next;
    }
}

/* Moves up to n more old buckets; frees the old index once it is empty.
 * Their records are scattered over the table, so each one read without
 * warning would be a cache miss: the first and then the second record of
 * every bucket of a chunk are fetched before any is relinked, so that the
 * misses overlap (longer chains are rare: the index has a bucket per slot). */
static void migrate(rp_sessions *t, uint32_t n)
{
    while (t->old_buckets != NULL && n > 0) {
        uint32_t b, link, left = t->old_mask + 1 - t->migrated;
        uint32_t end = t->migrated + (left < MIGRATE_CHUNK ? left : MIGRATE_CHUNK);
        for (b = t->migrated; b < end; b++)
            if ((link = t->old_buckets[b]) != 0)
                PREFETCH(record_at(t, link));
        for (b = t->migrated; b < end; b++)
            if ((link = t->old_buckets[b]) != 0 && (link = record_at(t, link)->chain) != 0)
                PREFETCH(record_at(t, link));
        for (b = t->migrated; b < end; b++)
            migrate_bucket(t, b);
        n = n > end - t->migrated ? n - (end - t->migrated) : 0;
        t->migrated = end;
        if (t->migrated > t->old_mask) {
            rp_big_free(t->old_buckets, buckets_size(t->old_mask + 1));
            t->old_buckets = NULL;
            t->migrated = 0;
        }
    }
}

/* One add or remove's share of a move in progress: a chunk every few. */
static void migrate_some(rp_sessions *t)
{
    if (t->old_buckets != NULL && ++t->ops % (MIGRATE_CHUNK / MIGRATE_STEP) == 0)
        migrate(t, MIGRATE_CHUNK);
}

/* Starts moving the index to nbuckets (a power of two) buckets; the adds and
 * removes that follow finish the move. */
static int reindex(rp_sessions *t, uint32_t nbuckets)
{
    uint32_t *buckets;
    migrate(t, UINT32_MAX); /* at most one move at a time */
    buckets = rp_big_zeroed(buckets_size(nbuckets));
    if (buckets == NULL)
        return RUPHIN_ERR_NOMEM;
    t->old_buckets = t->buckets; /* NULL for a new table: nothing to move */
    t->old_mask = t->bucket_mask;
    t->migrated = 0;
    t->buckets = buckets;
    t->bucket_mask = nbuckets - 1;
    return RUPHIN_OK;
}

/* Resizes the record array to capacity and starts the index's move to match
 * it. On failure the table stays valid (its index may stay smaller). */
static int resize(rp_sessions *t, uint32_t capacity)
{
    rp_session *items = rp_big_resize(t->items, items_size(t->capacity),
                                           items_size(capacity));
    if (items == NULL)
        return RUPHIN_ERR_NOMEM;
    t->items = items;
    t->capacity = capacity;
    return reindex(t, capacity);
}

int rp_sessions_init(rp_sessions *t, uint32_t limit, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->limit = limit;
    t->seed = seed;
    t->oldest = t->newest = NIL;
    return resize(t, MIN_CAPACITY);
}

void rp_sessions_free(rp_sessions *t)
{
    rp_big_free(t->items, items_size(t->capacity));
    if (t->buckets != NULL)
        rp_big_free(t->buckets, buckets_size(t->bucket_mask + 1));
    if (t->old_buckets != NULL)
        rp_big_free(t->old_buckets, buckets_size(t->old_mask + 1));
    memset(t, 0, sizeof *t);
}

uint32_t rp_sessions_hash(const rp_sessions *t, const uint8_t *id, size_t id_len)
{
    return hash_id(t, id, id_len);
}

static int has_id(const rp_session *s, const uint8_t *id, size_t id_len)
{
    return s->id_len == id_len && memcmp(s->id, id, id_len) == 0;
}

rp_session *rp_sessions_find(const rp_sessions *t, const uint8_t *id, size_t id_len)
{
    return rp_sessions_find_hashed(t, hash_id(t, id, id_len), id, id_len);
}

rp_session *rp_sessions_find_hashed(const rp_sessions *t, uint32_t hash, const uint8_t *id,
                                    size_t id_len)
{
    uint32_t link = *bucket_for(t, hash);
    while (link != 0) {
        rp_session *s = record_at(t, link);
        if (has_id(s, id, id_len))
            return s;
        link = s->chain;
    }
    return NULL;
}

static void prefetch_record(const rp_session *s)
{
    PREFETCH(s);
    PREFETCH((const uint8_t *)(s + 1) - 1); /* a record may straddle two lines */
}

void rp_sessions_prefetch(const rp_sessions *t, uint32_t hash, const uint8_t *id, size_t id_len,
                          int refresh, int round)
{
    const uint32_t *head = bucket_for(t, hash);
    const rp_session *s;
    if (round == 0) {
        PREFETCH(head);
        return;
    }
    if (*head == 0)
        return;
    s = record_at(t, *head);
    if (round == 1) {
        prefetch_record(s);
    } else if (!has_id(s, id, id_len)) {
        if (s->chain != 0)
            prefetch_record(record_at(t, s->chain));
    } else if (refresh) {
        if (s->older != NIL)
            PREFETCH(&t->items[s->older].newer);
        if (s->newer != NIL)
            PREFETCH(&t->items[s->newer].older);
    }
}

void rp_sessions_prefetch_expired(const rp_sessions *t, int64_t now)
{
    uint32_t hashes[2 * RP_SESSIONS_EXPIRE_BATCH], n = 0, expiring, k, i;
    /* The expiry list mostly runs through the array in order (each removal
     * moves the newest record into the slot of the one that expired), so
     * walking it is cheap; the buckets are where the misses are. */
    for (i = t->oldest; i != NIL && n < RP_SESSIONS_EXPIRE_BATCH &&
                        rp_session_expired(&t->items[i], now);
         i = t->items[i].newer)
        hashes[n++] = hash_id(t, t->items[i].id, t->items[i].id_len);
    /* Each removal moves the last record into the hole, relinking it: the
     * newest ones, but added long enough ago that their buckets went cold. */
    for (expiring = n, k = 1; k <= expiring && k <= t->count; k++)
        hashes[n++] = hash_id(t, t->items[t->count - k].id, t->items[t->count - k].id_len);
    for (k = 0; k < n; k++)
        rp_sessions_prefetch(t, hashes[k], NULL, 0, 0, 0);
    for (k = 0; k < n; k++)
        rp_sessions_prefetch(t, hashes[k], NULL, 0, 0, 1);
}

static void list_append(rp_sessions *t, uint32_t i)
{
    t->items[i].older = t->newest;
    t->items[i].newer = NIL;
    if (t->newest != NIL)
        t->items[t->newest].newer = i;
    else
        t->oldest = i;
    t->newest = i;
}

static void list_unlink(rp_sessions *t, uint32_t i)
{
    rp_session *s = &t->items[i];
    if (s->older != NIL)
        t->items[s->older].newer = s->newer;
    else
        t->oldest = s->newer;
    if (s->newer != NIL)
        t->items[s->newer].older = s->older;
    else
        t->newest = s->older;
}

/* The link (bucket head or a chain field) that points at record i. */
static uint32_t *link_to(rp_sessions *t, uint32_t i)
{
    uint32_t *link = bucket_of(t, t->items[i].id, t->items[i].id_len);
    while (*link != link_of(i))
        link = &record_at(t, *link)->chain;
    return link;
}

static void set_owner(rp_session *s, const ruphin_addr *owner)
{
    s->family = (uint8_t)((s->family & ~RP_SESSION_FAMILY_MASK) | owner->family);
    s->port = owner->port;
    memcpy(s->ip, owner->ip, sizeof s->ip);
}

rp_session *rp_sessions_add(rp_sessions *t, const uint8_t *id, size_t id_len,
                            const ruphin_addr *owner, uint32_t expires, int *full)
{
    return rp_sessions_add_hashed(t, hash_id(t, id, id_len), id, id_len, owner, expires, full);
}

rp_session *rp_sessions_add_hashed(rp_sessions *t, uint32_t hash, const uint8_t *id,
                                   size_t id_len, const ruphin_addr *owner, uint32_t expires,
                                   int *full)
{
    uint32_t i;
    rp_session *s;

    *full = t->count >= t->limit;
    if (*full || id_len > RUPHIN_MAX_SESSION_ID)
        return NULL;
    if (t->count == t->capacity)
        resize(t, t->capacity * 2); /* if only the index failed to grow, it still works */
    if (t->count == t->capacity)
        return NULL; /* out of memory */
    migrate_some(t);
    i = t->count++;
    s = &t->items[i];
    memset(s, 0, sizeof *s);
    if (id_len > 0)
        memcpy(s->id, id, id_len);
    s->id_len = (uint8_t)id_len;
    set_owner(s, owner);
    s->expires = expires;
    *chain_end(t, bucket_for(t, hash)) = link_of(i);
    list_append(t, i);
    return s;
}

void rp_sessions_refresh(rp_sessions *t, rp_session *s, uint32_t expires)
{
    uint32_t i = index_of(t, s);
    s->expires = expires;
    if (t->newest == i)
        return;
    list_unlink(t, i);
    list_append(t, i);
}

rp_session *rp_sessions_oldest(const rp_sessions *t)
{
    return t->oldest == NIL ? NULL : &t->items[t->oldest];
}

/* Moves record from into slot to, fixing every link that pointed at it. */
static void move_record(rp_sessions *t, uint32_t from, uint32_t to)
{
    rp_session *s = &t->items[from];
    *link_to(t, from) = link_of(to);
    if (s->older != NIL)
        t->items[s->older].newer = to;
    else
        t->oldest = to;
    if (s->newer != NIL)
        t->items[s->newer].older = to;
    else
        t->newest = to;
    t->items[to] = *s;
}

void rp_sessions_remove(rp_sessions *t, rp_session *s)
{
    uint32_t i = index_of(t, s);
    uint32_t last = t->count - 1;

    *link_to(t, i) = s->chain;
    list_unlink(t, i);
    if (i != last)
        move_record(t, last, i);
    t->count--;
    migrate_some(t);
    /* Give memory back once the table is mostly empty. */
    if (t->capacity > MIN_CAPACITY && t->count < t->capacity / 4)
        resize(t, t->capacity / 2); /* on failure the larger table stays valid */
}

void rp_session_owner(const rp_session *s, ruphin_addr *out)
{
    memset(out, 0, sizeof *out);
    out->family = s->family & RP_SESSION_FAMILY_MASK;
    out->port = s->port;
    memcpy(out->ip, s->ip, sizeof s->ip);
}

int rp_session_owned_by(const rp_session *s, const ruphin_addr *addr)
{
    uint8_t family = s->family & RP_SESSION_FAMILY_MASK;
    return family == addr->family && s->port == addr->port &&
           memcmp(s->ip, addr->ip, family == 4 ? 4 : 16) == 0;
}

void rp_session_move(rp_session *s, const ruphin_addr *owner)
{
    set_owner(s, owner);
}

int rp_session_flag(const rp_session *s, uint8_t flag)
{
    return (s->family & flag) != 0;
}

void rp_session_set_flag(rp_session *s, uint8_t flag, int on)
{
    s->family = (uint8_t)(on ? s->family | flag : s->family & ~flag);
}

int rp_session_expired(const rp_session *s, int64_t now)
{
    return (int32_t)(s->expires - (uint32_t)now) <= 0;
}
