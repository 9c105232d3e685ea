/* The holepuncher's session table; see sessions.h for the design. */
#include "sessions.h"
#include "bigarray.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX /* end of a list */

/* The id length of a vacant place (longer than any id). */
enum { VACANT = 0xff };
_Static_assert((int)RUPHIN_MAX_SESSION_ID < (int)VACANT, "no id is as long as a vacant place's mark");

/* Records: 2^30 at most, so that links and distances fit a slot. */
enum { MIN_CAPACITY = 64, MAX_CAPACITY = 1u << 30 };

/* Records moved into vacant places per removal, below half full. From
 * half full to a quarter (when the array halves) there are capacity / 4
 * removals, and up to capacity / 2 places past the half to empty. */
enum { COMPACT_STEP = 2 };

/* Places whose records move into a resized index per add or remove, on
 * average (a chunk at a time, so that its cache misses overlap). The move
 * should end before the next resize: after a doubling, as many adds come
 * first as there are places to move (1 per add would do); after a halving
 * (at most half the old room in use), an eighth of the old room's removes
 * (4 per remove would do). A resize that still comes early finishes the
 * move first. */
enum { MIGRATE_STEP = 16, MIGRATE_CHUNK = 64 };

/* A doubling's move inserts at random all over the new index, so it would
 * fault in every page of it within one batch: tens of milliseconds (16
 * huge pages at 1 to 2 million sessions, about 4 ms each on a VM whose host
 * takes back free memory), during which the holepuncher answers nothing
 * and its socket overflows. So the index is made ahead, over the last
 * capacity / PREPARE_SHARE adds before the doubling: each faults in the
 * next PREPARE_BYTES of it (its 4 x capacity slots of 4 bytes over those
 * adds), and no add faults more than one page. Until a table is that full
 * it holds no more memory; past it, up to 16 bytes more per place. */
enum { PREPARE_SHARE = 32, PREPARE_BYTES = 4 * sizeof(uint32_t) * PREPARE_SHARE };
/* A removal that leaves fewer sessions than capacity - capacity /
 * DROP_SHARE gives that index back: a mark below the one where it began, so
 * that a table hovering about that one keeps it rather than fault it in
 * again and again. */
enum { DROP_SHARE = 8 };

/* Memory latency, not arithmetic, is what a large table costs: prefetching
 * the lines the next steps will touch lets their misses overlap. Macros,
 * not functions: GCC 12 judged a static function whose only effect is a
 * prefetch to have none, and dropped its calls. */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(addr) __builtin_prefetch(addr)
#else
#define PREFETCH(addr) ((void)(addr))
#endif
/* A record may straddle two lines. */
#define PREFETCH_RECORD(s) (PREFETCH(s), PREFETCH((const uint8_t *)((s) + 1) - 1))

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

static int has_id(const rp_session *s, const uint8_t *id, size_t id_len)
{
    return s->id_len == id_len && memcmp(s->id, id, id_len) == 0;
}

static uint32_t index_of(const rp_sessions *t, const rp_session *s)
{
    return (uint32_t)(s - t->items);
}

/* Index slots hold a record's index plus one, so that zero, what fresh
 * memory holds, means "empty". */
static uint32_t link_of(uint32_t i)
{
    return i + 1;
}

static rp_session *record_at(const rp_sessions *t, uint32_t link)
{
    return &t->items[link - 1];
}

static int vacant(const rp_sessions *t, uint32_t i)
{
    return t->items[i].id_len == VACANT;
}

static uint32_t record_hash(const rp_sessions *t, uint32_t i)
{
    return hash_id(t, t->items[i].id, t->items[i].id_len);
}

/* ---- index slots (layout in sessions.h) ---- */

/* The link of a removed record in an old index (larger than any record's). */
static uint32_t tombstone(const rp_session_index *ix)
{
    return ix->link_mask;
}

static uint32_t slot_link(const rp_session_index *ix, uint32_t v)
{
    return v & ix->link_mask;
}

static uint32_t slot_dist(const rp_session_index *ix, uint32_t v)
{
    return v >> ix->link_bits & ix->dist_max;
}

/* (Shifts of a 64-bit value: with no room for a tag, tag_shift is 32.) */
static uint32_t slot_tag(const rp_session_index *ix, uint32_t v)
{
    return (uint32_t)((uint64_t)v >> ix->tag_shift) & ix->tag_mask;
}

/* The tag: the hash's bits just above those that choose the home slot. */
static uint32_t hash_tag(const rp_session_index *ix, uint32_t hash)
{
    return hash >> ix->link_bits & ix->tag_mask;
}

static uint32_t make_slot(const rp_session_index *ix, uint32_t link, uint32_t dist, uint32_t tag)
{
    uint32_t v = link | (dist < ix->dist_max ? dist : ix->dist_max) << ix->link_bits;
    return v | (uint32_t)((uint64_t)tag << ix->tag_shift);
}

static uint32_t with_link(const rp_session_index *ix, uint32_t v, uint32_t link)
{
    return (v & ~ix->link_mask) | link;
}

static uint32_t home_of(const rp_session_index *ix, uint32_t hash)
{
    return hash & ix->mask;
}

static uint32_t next_slot(const rp_session_index *ix, uint32_t p)
{
    return (p + 1) & ix->mask;
}

/* How far slot p's record is from its home: stored, or (saturated) from
 * its id's hash. */
static uint32_t true_dist(const rp_sessions *t, const rp_session_index *ix, uint32_t p, uint32_t v)
{
    uint32_t d = slot_dist(ix, v);
    if (d < ix->dist_max)
        return d;
    return (p - home_of(ix, record_hash(t, slot_link(ix, v) - 1))) & ix->mask;
}

static size_t items_size(uint32_t capacity)
{
    return (size_t)capacity * sizeof(rp_session);
}

static size_t slots_size(uint32_t nslots)
{
    return (size_t)nslots * sizeof(uint32_t);
}

/* An empty index of nslots (a power of two, 2 to 2^31) slots, on the given
 * zeroed slots or (NULL) new ones: links go up to nslots / 2, the rest of
 * each slot's 32 bits is a distance of up to 4 bits and the tag. */
static int index_init(rp_session_index *ix, uint32_t nslots, uint32_t *slots)
{
    uint8_t bits = 0, spare, dist_bits;
    while ((1u << bits) < nslots)
        bits++;
    spare = (uint8_t)(32 - bits);
    ix->slots = slots != NULL ? slots : rp_big_zeroed(slots_size(nslots));
    ix->mask = nslots - 1;
    dist_bits = spare < 4 ? spare : 4;
    ix->link_bits = bits;
    ix->tag_shift = (uint8_t)(bits + dist_bits);
    ix->link_mask = (uint32_t)((1ull << bits) - 1);
    ix->dist_max = (1u << dist_bits) - 1;
    ix->tag_mask = (uint32_t)((1ull << (spare - dist_bits)) - 1);
    return ix->slots == NULL ? RUPHIN_ERR_NOMEM : RUPHIN_OK;
}

static void index_free(rp_session_index *ix)
{
    if (ix->slots != NULL)
        rp_big_free(ix->slots, slots_size(ix->mask + 1));
    memset(ix, 0, sizeof *ix);
}

/* Whether a slot's link is no longer a record of this index: a tombstone,
 * or (in the old index) a record already moved to the new one, whose slot
 * there is the one to use (this one is skipped, never followed). */
static int stale(const rp_sessions *t, const rp_session_index *ix, uint32_t link)
{
    return ix == &t->old && (link == tombstone(ix) || link - 1 < t->migrated);
}

/* The first slot from p on, within its cluster, whose tag is this one and
 * whose record ix still holds; NULL at the cluster's end. Reads no record. */
static uint32_t *tagged_slot(const rp_sessions *t, const rp_session_index *ix, uint32_t p,
                             uint32_t tag)
{
    uint32_t v;
    for (; (v = ix->slots[p]) != 0; p = next_slot(ix, p))
        if (slot_tag(ix, v) == tag && !stale(t, ix, slot_link(ix, v)))
            return &ix->slots[p];
    return NULL;
}

/* The slot of the id's record in ix, or NULL. Only the records whose tag
 * matches are read. */
static uint32_t *index_find(const rp_sessions *t, const rp_session_index *ix, uint32_t hash,
                            const uint8_t *id, size_t len)
{
    uint32_t tag = hash_tag(ix, hash), *slot = tagged_slot(t, ix, home_of(ix, hash), tag);
    while (slot != NULL && !has_id(record_at(t, slot_link(ix, *slot)), id, len))
        slot = tagged_slot(t, ix, next_slot(ix, (uint32_t)(slot - ix->slots)), tag);
    return slot;
}

static void index_insert(rp_session_index *ix, uint32_t hash, uint32_t link)
{
    uint32_t p = home_of(ix, hash), dist = 0;
    for (; ix->slots[p] != 0; p = next_slot(ix, p))
        dist++;
    ix->slots[p] = make_slot(ix, link, dist, hash_tag(ix, hash));
}

/* The slot holding link (which is there), searched from the hash's home. */
static uint32_t *slot_of(const rp_session_index *ix, uint32_t hash, uint32_t link)
{
    uint32_t p = home_of(ix, hash);
    while (slot_link(ix, ix->slots[p]) != link)
        p = next_slot(ix, p);
    return &ix->slots[p];
}

/* Empties a slot of the current index, moving back the records after it
 * that may sit nearer their home (no tombstones: a steady churn of sessions
 * would fill the index with them). Reads only slots, unless a distance
 * saturated. */
static void index_delete(const rp_sessions *t, uint32_t *slot)
{
    const rp_session_index *ix = &t->index;
    uint32_t hole = (uint32_t)(slot - ix->slots), p = hole, v;
    while ((v = ix->slots[p = next_slot(ix, p)]) != 0) {
        uint32_t dist = true_dist(t, ix, p, v), gap = (p - hole) & ix->mask;
        if (dist >= gap) {
            ix->slots[hole] = make_slot(ix, slot_link(ix, v), dist - gap, slot_tag(ix, v));
            hole = p;
        }
    }
    ix->slots[hole] = 0;
}

/* The index that holds record i. */
static const rp_session_index *index_holding(const rp_sessions *t, uint32_t i)
{
    if (t->old.slots != NULL && i >= t->migrated && i < t->old_limit)
        return &t->old;
    return &t->index;
}

static rp_session_index *index_for(rp_sessions *t, uint32_t i)
{
    return index_holding(t, i) == &t->old ? &t->old : &t->index;
}

/* Takes record i, of this hash, out of the index that holds it. */
static void unindex(rp_sessions *t, uint32_t i, uint32_t hash)
{
    rp_session_index *ix = index_for(t, i);
    uint32_t *slot = slot_of(ix, hash, link_of(i));
    if (ix == &t->old)
        *slot = with_link(ix, *slot, tombstone(ix));
    else
        index_delete(t, slot);
}

/* Moves up to n more places' records into the new index; frees the old
 * one once none is left in it. The old index's slots of moved records
 * simply go stale. A chunk's home slots are fetched before any is filled,
 * so that their cache misses overlap. */
static void migrate(rp_sessions *t, uint32_t n)
{
    while (t->old.slots != NULL) {
        uint32_t hashes[MIGRATE_CHUNK], k, chunk;
        uint32_t end = t->used < t->old_limit ? t->used : t->old_limit;
        if (t->migrated >= end) {
            index_free(&t->old);
            t->migrated = t->old_limit = 0;
            return;
        }
        if (n == 0)
            return;
        chunk = end - t->migrated < MIGRATE_CHUNK ? end - t->migrated : MIGRATE_CHUNK;
        for (k = 0; k < chunk; k++) {
            if (vacant(t, t->migrated + k))
                continue;
            hashes[k] = record_hash(t, t->migrated + k);
            PREFETCH(&t->index.slots[home_of(&t->index, hashes[k])]);
        }
        for (k = 0; k < chunk; k++)
            if (!vacant(t, t->migrated + k))
                index_insert(&t->index, hashes[k], link_of(t->migrated + k));
        t->migrated += chunk;
        n = n > chunk ? n - chunk : 0;
    }
}

/* One add or remove's share of a move in progress: a chunk every few. */
static void migrate_some(rp_sessions *t)
{
    if (t->old.slots != NULL && ++t->ops % (MIGRATE_CHUNK / MIGRATE_STEP) == 0)
        migrate(t, MIGRATE_CHUNK);
}

/* The size of the index the next doubling makes. */
static size_t next_index_size(const rp_sessions *t)
{
    return slots_size(4 * t->capacity);
}

/* Faults in the next PREPARE_BYTES of the next doubling's index (see
 * PREPARE_SHARE), once the table is that near full. */
static void prepare_next_index(rp_sessions *t)
{
    size_t size;
    if (t->count < t->capacity - t->capacity / PREPARE_SHARE || t->limit <= t->capacity ||
        2 * t->capacity > MAX_CAPACITY)
        return; /* not that near a doubling, or none to come */
    size = next_index_size(t);
    if (t->next_slots == NULL && (t->next_slots = rp_big_zeroed(size)) == NULL)
        return; /* the doubling will try again, and fault its pages as it goes */
    if (t->next_ready < size) {
        /* A write (a read would map the shared zero page) of what is there. */
        ((volatile uint8_t *)t->next_slots)[t->next_ready] = 0;
        t->next_ready += PREPARE_BYTES;
    }
}

/* Gives back the next doubling's index made so far. */
static void drop_next_index(rp_sessions *t)
{
    if (t->next_slots == NULL)
        return;
    rp_big_free(t->next_slots, next_index_size(t));
    t->next_slots = NULL;
    t->next_ready = 0;
}

/* Resizes the record array to capacity (a power of two) and starts moving
 * the records into a new index to match it (the adds and removes that
 * follow finish the move); a doubling takes the index made ahead, if any.
 * On failure nothing changed. */
static int resize(rp_sessions *t, uint32_t capacity)
{
    rp_session_index fresh;
    rp_session *items;
    uint32_t *ready = capacity == 2 * t->capacity ? t->next_slots : NULL;
    migrate(t, UINT32_MAX); /* at most one move at a time */
    if (index_init(&fresh, 2 * capacity, ready) != RUPHIN_OK)
        return RUPHIN_ERR_NOMEM;
    items = rp_big_resize(t->items, items_size(t->capacity), items_size(capacity));
    if (items == NULL) {
        if (ready == NULL)
            index_free(&fresh);
        return RUPHIN_ERR_NOMEM;
    }
    if (ready != NULL)
        t->next_slots = NULL, t->next_ready = 0; /* now the index */
    else
        drop_next_index(t);
    t->old = t->index; /* no slots for a new table: nothing to move */
    t->old_limit = t->capacity;
    t->migrated = 0;
    t->index = fresh;
    t->items = items;
    t->capacity = capacity;
    migrate(t, 0); /* an empty table has nothing to move */
    return RUPHIN_OK;
}

int rp_sessions_init(rp_sessions *t, uint32_t limit, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->limit = limit;
    t->seed = seed;
    t->live.first = t->live.last = t->vacant.first = t->vacant.last = NIL;
    return resize(t, MIN_CAPACITY);
}

void rp_sessions_free(rp_sessions *t)
{
    drop_next_index(t);
    rp_big_free(t->items, items_size(t->capacity));
    index_free(&t->index);
    index_free(&t->old);
    memset(t, 0, sizeof *t);
}

uint32_t rp_sessions_hash(const rp_sessions *t, const uint8_t *id, size_t id_len)
{
    return hash_id(t, id, id_len);
}

rp_session *rp_sessions_find(const rp_sessions *t, const uint8_t *id, size_t id_len)
{
    return rp_sessions_find_hashed(t, hash_id(t, id, id_len), id, id_len);
}

rp_session *rp_sessions_find_hashed(const rp_sessions *t, uint32_t hash, const uint8_t *id,
                                    size_t id_len)
{
    const uint32_t *slot = index_find(t, &t->index, hash, id, id_len);
    if (slot != NULL)
        return record_at(t, slot_link(&t->index, *slot));
    if (t->old.slots != NULL && (slot = index_find(t, &t->old, hash, id, id_len)) != NULL)
        return record_at(t, slot_link(&t->old, *slot));
    return NULL;
}

/* The first record from the hash's home on whose tag matches, in either
 * index, or NULL: the id's, unless the tag matched by chance. */
static const rp_session *candidate(const rp_sessions *t, uint32_t hash)
{
    const rp_session_index *ix = &t->index;
    const uint32_t *slot = tagged_slot(t, ix, home_of(ix, hash), hash_tag(ix, hash));
    if (slot == NULL && t->old.slots != NULL) {
        ix = &t->old;
        slot = tagged_slot(t, ix, home_of(ix, hash), hash_tag(ix, hash));
    }
    return slot == NULL ? NULL : record_at(t, slot_link(ix, *slot));
}

void rp_sessions_prefetch(const rp_sessions *t, uint32_t hash, const uint8_t *id, size_t id_len,
                          int refresh, int round)
{
    const rp_session *s;
    if (round == 0) {
        PREFETCH(&t->index.slots[home_of(&t->index, hash)]);
        if (t->old.slots != NULL)
            PREFETCH(&t->old.slots[home_of(&t->old, hash)]);
        return;
    }
    if (round == 2 && !refresh)
        return; /* round 2 fetches a refresh's neighbours only */
    if ((s = candidate(t, hash)) == NULL)
        return;
    if (round == 1) {
        PREFETCH_RECORD(s);
    } else if (has_id(s, id, id_len)) {
        if (s->older != NIL)
            PREFETCH(&t->items[s->older].newer);
        if (s->newer != NIL)
            PREFETCH(&t->items[s->newer].older);
    }
}

/* The home slot of record i, of this hash, in the index that holds it. */
static const uint32_t *home_slot(const rp_sessions *t, uint32_t i, uint32_t hash)
{
    const rp_session_index *ix = index_holding(t, i);
    return &ix->slots[home_of(ix, hash)];
}

static void list_append(rp_sessions *t, rp_session_list *l, uint32_t i)
{
    t->items[i].older = l->last;
    t->items[i].newer = NIL;
    if (l->last != NIL)
        t->items[l->last].newer = i;
    else
        l->first = i;
    l->last = i;
}

static void list_unlink(rp_sessions *t, rp_session_list *l, uint32_t i)
{
    rp_session *s = &t->items[i];
    if (s->older != NIL)
        t->items[s->older].newer = s->newer;
    else
        l->first = s->newer;
    if (s->newer != NIL)
        t->items[s->newer].older = s->older;
    else
        l->last = s->older;
}

/* Record from, in list l, is now at to: its neighbours learn it. */
static void list_moved(rp_sessions *t, rp_session_list *l, uint32_t from, uint32_t to)
{
    const rp_session *s = &t->items[from];
    if (s->older != NIL)
        t->items[s->older].newer = to;
    else
        l->first = to;
    if (s->newer != NIL)
        t->items[s->newer].older = to;
    else
        l->last = to;
}

/* A place for a new record: the one vacated longest ago, else the first
 * never used. Taking places in the order they were vacated keeps the array
 * in expiry order while as many sessions come as go (all live as long):
 * the expiry walk then reads it forwards, and each new record lands in a
 * line that walk has just read. */
static uint32_t take_place(rp_sessions *t)
{
    uint32_t i = t->vacant.first;
    if (i == NIL)
        return t->used++;
    list_unlink(t, &t->vacant, i);
    return i;
}

/* Whether every place of the array's room holds a record. */
static int no_place(const rp_sessions *t)
{
    return t->used == t->capacity && t->vacant.first == NIL;
}

/* Record i's place holds no session any more. The array's end moves back
 * over vacant places, so that its last place always holds a record (the
 * one compaction moves). */
static void vacate(rp_sessions *t, uint32_t i)
{
    t->items[i].id_len = VACANT;
    if (i + 1 < t->used) {
        list_append(t, &t->vacant, i);
        return;
    }
    t->used = i;
    while (t->used > 0 && vacant(t, t->used - 1)) {
        t->used--;
        list_unlink(t, &t->vacant, t->used);
    }
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
    if (no_place(t) && t->capacity < MAX_CAPACITY)
        resize(t, t->capacity * 2);
    if (no_place(t))
        return NULL; /* out of memory */
    migrate_some(t);
    prepare_next_index(t);
    i = take_place(t);
    t->count++;
    s = &t->items[i];
    memset(s, 0, sizeof *s);
    if (id_len > 0)
        memcpy(s->id, id, id_len);
    s->id_len = (uint8_t)id_len;
    set_owner(s, owner);
    s->expires = expires;
    index_insert(index_for(t, i), hash, link_of(i));
    list_append(t, &t->live, i);
    return s;
}

void rp_sessions_refresh(rp_sessions *t, rp_session *s, uint32_t expires)
{
    uint32_t i = index_of(t, s);
    s->expires = expires;
    if (t->live.last == i)
        return;
    list_unlink(t, &t->live, i);
    list_append(t, &t->live, i);
}

rp_session *rp_sessions_oldest(const rp_sessions *t)
{
    return t->live.first == NIL ? NULL : &t->items[t->live.first];
}

/* Moves record from, of this hash, into place to (taken: no longer in the
 * vacant list), fixing its index slot and list links. */
static void move_record(rp_sessions *t, uint32_t from, uint32_t to, uint32_t hash)
{
    rp_session_index *was = index_for(t, from), *will = index_for(t, to);
    if (was == will) {
        uint32_t *slot = slot_of(was, hash, link_of(from));
        *slot = with_link(was, *slot, link_of(to));
    } else {
        unindex(t, from, hash);
        index_insert(will, hash, link_of(to));
    }
    list_moved(t, &t->live, from, to);
    t->items[to] = t->items[from];
}

/* Below half full, moves records from the array's end into the places
 * vacant longest, until the array fits in half its room. There are vacant
 * places then (more places used than sessions), all before the last, which
 * always holds a record. */
static void compact_some(rp_sessions *t)
{
    int k;
    for (k = 0; k < COMPACT_STEP && t->count < t->capacity / 2 && t->used > t->capacity / 2;
         k++) {
        uint32_t last = t->used - 1;
        move_record(t, last, take_place(t), record_hash(t, last));
        vacate(t, last);
    }
}

/* Removes record i, of this hash. */
static void remove_hashed(rp_sessions *t, uint32_t i, uint32_t hash)
{
    unindex(t, i, hash);
    list_unlink(t, &t->live, i);
    vacate(t, i);
    t->count--;
    migrate_some(t);
    compact_some(t);
    /* Far enough from the next doubling, the index made for it goes back. */
    if (t->count < t->capacity - t->capacity / DROP_SHARE)
        drop_next_index(t);
    /* Give memory back once the table is mostly empty. */
    if (t->capacity > MIN_CAPACITY && t->count < t->capacity / 4 && t->used <= t->capacity / 2)
        resize(t, t->capacity / 2); /* on failure the larger table stays */
}

void rp_sessions_remove(rp_sessions *t, rp_session *s)
{
    uint32_t i = index_of(t, s);
    remove_hashed(t, i, record_hash(t, i));
}

/* Up to RP_SESSIONS_EXPIRE_BATCH expired sessions, from the oldest on.
 * First the home slots of their records are fetched, so that the removals'
 * misses overlap, and each id is hashed once: the k-th removal is the k-th
 * record walked (the list's order does not change, and a record moved by
 * compaction keeps its id). Returns how many went: fewer than the batch
 * when visit kept one. */
static uint32_t expire_batch(rp_sessions *t, int64_t now, rp_session_visit visit, void *ctx)
{
    uint32_t hashes[RP_SESSIONS_EXPIRE_BATCH];
    uint32_t n = 0, k, i;
    /* While as many sessions come as go, all living as long, the expiry
     * list runs forwards through the array (take_place): this walk reads
     * consecutive lines, no longer lines scattered about its end. */
    for (i = t->live.first; i != NIL && n < RP_SESSIONS_EXPIRE_BATCH &&
                            rp_session_expired(&t->items[i], now);
         i = t->items[i].newer, n++) {
        hashes[n] = record_hash(t, i);
        PREFETCH(home_slot(t, i, hashes[n]));
    }
    for (k = 0; k < n; k++) {
        i = t->live.first;
        if (visit != NULL && visit(ctx, &t->items[i]) != 0)
            break;
        remove_hashed(t, i, hashes[k]);
    }
    return k;
}

uint32_t rp_sessions_expire(rp_sessions *t, int64_t now, rp_session_visit visit, void *ctx)
{
    uint32_t removed = 0, n;
    do { /* a full batch, none kept: there may be more */
        n = expire_batch(t, now, visit, ctx);
        removed += n;
    } while (n == RP_SESSIONS_EXPIRE_BATCH);
    return removed;
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
