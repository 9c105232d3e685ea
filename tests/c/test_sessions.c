/* The session table against a naive model: random adds, refreshes, finds and
 * expiries must agree; memory shrinks back as sessions go. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* mincore */
#endif
#include "check.h"
#include "platform.h"
#include "sessions.h"

#include <stdint.h>
#include <stdlib.h>

#ifdef _WIN32
#include <windows.h>
#include <psapi.h> /* QueryWorkingSetEx (kernel32's K32QueryWorkingSetEx) */
#else
#include <sys/mman.h>
#include <unistd.h>
#endif

enum { IDS = 5000, STEPS = 200000 };

typedef struct model_entry {
    int live;
    uint32_t expires;
    uint16_t port;
} model_entry;

static model_entry model[IDS];

static size_t make_id(int n, uint8_t *id)
{
    /* Varying lengths, including the empty id, so length is part of the key. */
    return (size_t)snprintf((char *)id, RUPHIN_MAX_SESSION_ID + 1, "%.*d", n % 9, n);
}

static ruphin_addr owner(uint16_t port)
{
    ruphin_addr a = {4, 0, port, 0, {10, 0, 0, 1}};
    return a;
}

static int model_live(int n, uint32_t now)
{
    return model[n].live && (int32_t)(model[n].expires - now) > 0;
}

static void test_against_model(void)
{
    rp_sessions t;
    uint32_t now = 0xfffff000u; /* crosses the 32-bit wrap on the way */
    int step, n, mismatches = 0;
    srand(7);
    CHECK_EQ(rp_sessions_init(&t, IDS, 12345), RUPHIN_OK);
    for (step = 0; step < STEPS; step++) {
        uint8_t id[RUPHIN_MAX_SESSION_ID + 1];
        size_t len;
        rp_session *s;
        int full;
        ruphin_addr a;

        now += (uint32_t)(rand() % 3);
        rp_sessions_expire(&t, now, NULL, NULL);
        n = rand() % IDS;
        len = make_id(n, id);
        a = owner((uint16_t)n);
        s = rp_sessions_find(&t, id, len);
        if ((s != NULL) != model_live(n, now) || (s != NULL && !rp_session_owned_by(s, &a)))
            mismatches++;
        if (s == NULL)
            CHECK(rp_sessions_add(&t, id, len, &a, now + 1000, &full) != NULL);
        else
            rp_sessions_refresh(&t, s, now + 1000);
        model[n].live = 1;
        model[n].expires = now + 1000;
        if (step % 997 == 0) {
            uint32_t live = 0;
            for (n = 0; n < IDS; n++)
                live += (uint32_t)model_live(n, now);
            mismatches += t.count != live;
        }
    }
    CHECK_EQ(mismatches, 0);
    CHECK(t.count > 100); /* the test exercised a populated table */
    rp_sessions_free(&t);
}

/* rp_sessions_expire's visitor: checks the order, counts, keeps the
 * session once the count reaches its limit. */
typedef struct expiry_seen {
    int count, limit, out_of_order;
    uint32_t last_expires;
} expiry_seen;

static int see_expiry(void *ctx, const rp_session *s)
{
    expiry_seen *seen = ctx;
    if (seen->count == seen->limit)
        return 1;
    seen->out_of_order += seen->count > 0 && s->expires < seen->last_expires;
    seen->last_expires = s->expires;
    seen->count++;
    return 0;
}

static void test_expiry_order_and_shrink(void)
{
    rp_sessions t;
    uint8_t id[8];
    int i, full;
    expiry_seen seen = {0, 40, 0, 0};
    ruphin_addr a = owner(1);
    CHECK_EQ(rp_sessions_init(&t, 100000, 1), RUPHIN_OK);
    for (i = 0; i < 100000; i++) {
        memcpy(id, &i, sizeof i);
        CHECK(rp_sessions_add(&t, id, sizeof i, &a, (uint32_t)i, &full) != NULL);
    }
    memcpy(id, &i, sizeof i);
    CHECK(rp_sessions_add(&t, id, sizeof i, &a, 1, &full) == NULL && full);
    CHECK(t.capacity >= 100000);
    /* Refreshing moves a session to the end of the expiry order. */
    i = 0;
    memcpy(id, &i, sizeof i);
    rp_sessions_refresh(&t, rp_sessions_find(&t, id, sizeof i), 200000);
    CHECK(rp_sessions_oldest(&t) == &t.items[1]);
    /* A visitor that says stop keeps that session, mid-batch or not. */
    CHECK_EQ(rp_sessions_expire(&t, 99999, see_expiry, &seen), 40);
    CHECK(t.count == 100000 - 40 && rp_sessions_oldest(&t)->expires == 41);
    seen.limit = -1; /* no limit */
    CHECK_EQ(rp_sessions_expire(&t, 99999, see_expiry, &seen), 99999 - 40);
    CHECK_EQ(seen.count, 99999);
    CHECK_EQ(seen.out_of_order, 0);
    CHECK_EQ(t.count, 1);
    CHECK(rp_sessions_find(&t, id, sizeof i) != NULL);
    CHECK(t.capacity <= 128); /* memory went back */
    rp_sessions_free(&t);
}

static void test_hash_collisions_still_found(void)
{
    /* A small first table with many ids: clusters in the index, growth and
     * removals that move records back. */
    rp_sessions t;
    uint8_t id[4];
    int i, full, found = 0;
    ruphin_addr a = owner(9);
    CHECK_EQ(rp_sessions_init(&t, 1000, 0), RUPHIN_OK);
    for (i = 0; i < 1000; i++) {
        memcpy(id, &i, 4);
        rp_sessions_add(&t, id, 4, &a, 5, &full);
    }
    for (i = 999; i >= 0; i -= 2) {
        memcpy(id, &i, 4);
        rp_sessions_remove(&t, rp_sessions_find(&t, id, 4));
    }
    for (i = 0; i < 1000; i++) {
        memcpy(id, &i, 4);
        found += rp_sessions_find(&t, id, 4) != NULL;
    }
    CHECK_EQ(found, 500);
    rp_sessions_free(&t);
}

static int all_found(const rp_sessions *t, int from, int to)
{
    int i, missing = 0;
    for (i = from; i < to; i++)
        missing += rp_sessions_find(t, (const uint8_t *)&i, sizeof i) == NULL;
    return missing == 0;
}

/* The session whose id is n's bytes (the tests below). */
static rp_session *add_number(rp_sessions *t, int n, const ruphin_addr *owner, uint32_t expires)
{
    int full;
    return rp_sessions_add(t, (const uint8_t *)&n, sizeof n, owner, expires, &full);
}

static rp_session *find_number(const rp_sessions *t, int n)
{
    return rp_sessions_find(t, (const uint8_t *)&n, sizeof n);
}

static void test_growth_moves_a_few_records_per_add(void)
{
    /* The add that doubles the table must not relink every record at once
     * (a pause proportional to the table: 86 ms at 2 million sessions); the
     * later adds and removes finish the move, and every id stays findable
     * all along. */
    rp_sessions t;
    int i, during = 0, lost = 0;
    uint32_t grown_at;
    ruphin_addr a = owner(3);
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 42), RUPHIN_OK);
    for (i = 0; (uint32_t)i < 4096; i++)
        CHECK(add_number(&t, i, &a, 1) != NULL);
    CHECK_EQ(t.capacity, 4096);
    CHECK(t.old.slots == NULL);
    grown_at = t.capacity;
    CHECK(add_number(&t, i, &a, 1) != NULL);
    i++;
    CHECK_EQ(t.capacity, 2 * grown_at);
    CHECK(t.old.slots != NULL && t.migrated < grown_at / 16); /* most still to move */
    for (; t.old.slots != NULL; i++) {
        CHECK(add_number(&t, i, &a, 1) != NULL);
        if (i % 7 == 0) { /* removes during the move reindex the right records */
            int gone = i - 4000;
            rp_sessions_remove(&t, rp_sessions_find(&t, (const uint8_t *)&gone, sizeof gone));
            lost++;
        }
        during += t.old.slots != NULL && !all_found(&t, i - 50, i + 1);
    }
    CHECK_EQ(during, 0);
    CHECK((uint32_t)i < 4096 + grown_at / 8); /* the move ended well before the next */
    CHECK_EQ(t.count, (uint32_t)(i - lost));
    CHECK_EQ(rp_sessions_find(&t, (const uint8_t *)&(int){0}, sizeof(int)) != NULL, 1);
    rp_sessions_free(&t);
}

static void test_shrinking_moves_incrementally_too(void)
{
    /* Removing most sessions halves the table more than once; ids that stay
     * are found at every step of each move. */
    rp_sessions t;
    int i, misses = 0;
    rp_session *s;
    ruphin_addr a = owner(4);
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 43), RUPHIN_OK);
    for (i = 0; i < 20000; i++)
        CHECK(add_number(&t, i, &a, (uint32_t)i) != NULL);
    while ((s = rp_sessions_oldest(&t)) != NULL && rp_session_expired(s, 19899)) {
        rp_sessions_remove(&t, s);
        misses += !all_found(&t, 19900, 20000);
    }
    CHECK_EQ(misses, 0);
    CHECK_EQ(t.count, 100);
    CHECK(t.capacity <= 512);
    rp_sessions_free(&t);
}

#if RP_LINUX_EXTRAS
static int off_huge_page(const void *p)
{
    return (uintptr_t)p % (2u << 20) != 0;
}
#endif

static void test_arrays_start_on_huge_page_boundaries(void)
{
    /* On Linux the records and the index are mappings that start on a
     * 2 MiB boundary through every doubling and halving: moved to another
     * offset, a mapping's huge pages are split into small ones for good (a
     * table grown to a million sessions had a third of its records on them:
     * bigarray.c). The records stay whole through the moves. */
#if RP_LINUX_EXTRAS
    rp_sessions t;
    int i, doublings = 0, off = 0, misses = 0;
    uint32_t capacity;
    rp_session *s;
    ruphin_addr a = owner(5);
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 44), RUPHIN_OK);
    capacity = t.capacity;
    for (i = 0; i < 300000; i++) {
        CHECK(add_number(&t, i, &a, (uint32_t)i) != NULL);
        if (t.capacity != capacity && t.capacity * sizeof(rp_session) >= (2u << 20)) {
            doublings++;
            off += off_huge_page(t.items) + off_huge_page(t.index.slots);
        }
        capacity = t.capacity;
    }
    CHECK(doublings >= 3);
    CHECK(all_found(&t, 0, 300000));
    while ((s = rp_sessions_oldest(&t)) != NULL && rp_session_expired(s, 299000)) {
        rp_sessions_remove(&t, s);
        if (t.capacity != capacity && t.capacity * sizeof(rp_session) >= (2u << 20))
            off += off_huge_page(t.items) + off_huge_page(t.index.slots);
        capacity = t.capacity;
    }
    misses += !all_found(&t, 299001, 300000);
    CHECK_EQ(off, 0);
    CHECK_EQ(misses, 0);
    CHECK(t.capacity < 4096);
    rp_sessions_free(&t);
#endif
}

/* Slots of the current index that break its rules: a link out of range,
 * twice or to a vacant place, a stored distance that is not the true one
 * (saturated: at least the largest), a tag not the id's, a gap between a
 * record and its home. */
static int index_faults(const rp_sessions *t)
{
    const rp_session_index *ix = &t->index;
    uint32_t p, n = 0, bad = 0, dmax = ix->dist_max;
    static uint8_t seen[1 << 16]; /* by record: the tests below hold fewer */
    if (t->used > sizeof seen)
        return -1;
    memset(seen, 0, sizeof seen);
    for (p = 0; p <= ix->mask; p++) {
        uint32_t v = ix->slots[p], link, hash, dist, stored, q;
        if (v == 0)
            continue;
        link = v & ((1u << ix->link_bits) - 1);
        if (link == 0 || link > t->used || seen[link - 1]++ ||
            t->items[link - 1].id_len > RUPHIN_MAX_SESSION_ID) { /* vacant */
            bad++;
            continue;
        }
        n++;
        hash = rp_sessions_hash(t, t->items[link - 1].id, t->items[link - 1].id_len);
        dist = (p - (hash & ix->mask)) & ix->mask;
        stored = (v >> ix->link_bits) & dmax;
        bad += dist < dmax ? stored != dist : stored != dmax;
        bad += ix->tag_mask != 0 &&
               (v >> ix->tag_shift) != ((hash >> ix->link_bits) & ix->tag_mask);
        for (q = hash & ix->mask; q != p; q = (q + 1) & ix->mask)
            bad += ix->slots[q] == 0;
    }
    return (int)(bad + (n != t->count));
}

static void test_index_stays_exact_under_churn(void)
{
    /* Sessions expiring as others come (the holepuncher's steady state),
     * through growth and shrinking: removals move slots back instead of
     * leaving tombstones, and every slot keeps its link, distance and tag
     * right (a small table: long clusters, distances that saturate). */
    rp_sessions t;
    int i, faults = 0, lost = 0;
    ruphin_addr a = owner(5);
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 44), RUPHIN_OK);
    for (i = 0; i < 40000; i++) {
        int live = i < 20000 ? i / 4 : (40000 - i) / 4; /* up, then down */
        CHECK(add_number(&t, i, &a, (uint32_t)i) != NULL);
        if (i % 2) /* both ways of removing, which must agree */
            rp_sessions_expire(&t, i - live - 1, NULL, NULL);
        while ((int)t.count > live + 1)
            rp_sessions_remove(&t, rp_sessions_oldest(&t));
        if (i % 97 == 0 && t.old.slots == NULL)
            faults += index_faults(&t) != 0;
        if (i % 101 == 0)
            lost += !all_found(&t, i - (int)t.count + 1, i + 1);
    }
    CHECK_EQ(faults, 0);
    CHECK_EQ(lost, 0);
    CHECK(t.capacity <= 128); /* shrank back */
    rp_sessions_free(&t);
}

static void test_steady_churn_moves_no_record(void)
{
    /* As many sessions coming as going, all living as long (a steady
     * Register load): each new record takes the place vacated longest ago,
     * so no record moves, the array does not grow, and the expiry list
     * runs forwards through the array. */
    rp_sessions t;
    int i, moved = 0, backwards = 0;
    static ptrdiff_t place[5000]; /* positions: the array itself may move as it grows */
    ruphin_addr a = owner(8);
    rp_session *s;
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 46), RUPHIN_OK);
    for (i = 0; i < 5000; i++) {
        if (i >= 1000 && i % 10 == 0) /* ten go, ten come */
            CHECK_EQ(rp_sessions_expire(&t, i - 1000 + 9, NULL, NULL), 10);
        s = add_number(&t, i, &a, (uint32_t)i);
        CHECK(s != NULL);
        place[i] = s - t.items;
        if (i >= 1000) { /* the oldest, about to go, is where it was added */
            int oldest = i - i % 10 - 990;
            moved += find_number(&t, oldest) - t.items != place[oldest];
        }
    }
    CHECK_EQ(moved, 0);
    CHECK_EQ(t.count, 1000);
    CHECK_EQ(t.used, 1000);
    for (i = 3001; i < 5000; i++) /* the next session: in the next place, or the first */
        backwards += place[i] != place[i - 1] + 1 && place[i] != 0;
    CHECK_EQ(backwards, 0);
    CHECK(t.old.slots == NULL && index_faults(&t) == 0);
    rp_sessions_free(&t);
}

static void test_shrinks_once_a_quarter_full(void)
{
    /* Near the worst case for compaction: a full array loses its first
     * half, then every other record of the rest, so that the records left
     * are spread to its end. It still fits in half its room by the time it
     * is a quarter full, each time it halves. */
    rp_sessions t;
    int i, late = 0;
    ruphin_addr a = owner(9);
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 47), RUPHIN_OK);
    for (i = 0; i < 4096; i++)
        CHECK(add_number(&t, i, &a, (uint32_t)i) != NULL);
    CHECK_EQ(t.capacity, 4096);
    for (i = 2049; i < 4096; i += 2) /* these go last */
        rp_sessions_refresh(&t, find_number(&t, i), (uint32_t)(10000 + i));
    for (i = 0; i < 14096; i++) {
        if (rp_sessions_expire(&t, i, NULL, NULL) == 0)
            continue;
        late += t.capacity > 64 && t.count < t.capacity / 4;
        late += t.used > t.capacity;
    }
    CHECK_EQ(late, 0);
    CHECK_EQ(t.count, 0);
    CHECK_EQ(t.capacity, 64);
    rp_sessions_free(&t);
}

static void test_expiry_among_the_moved(void)
{
    /* Expiring sessions while the table, below half full, moves the
     * array's last records into vacant places: every third session
     * refreshed, the rest expire, and the index stays exact slot by slot
     * (a moved record that loses its hash shows only across a resize: the
     * next test). */
    rp_sessions t;
    int i, wrong = 0;
    ruphin_addr a = owner(6);
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 45), RUPHIN_OK);
    for (i = 0; i < 1000; i++)
        CHECK(add_number(&t, i, &a, 10) != NULL);
    for (i = 0; i < 1000; i += 3)
        rp_sessions_refresh(&t, find_number(&t, i), 20);
    CHECK_EQ(rp_sessions_expire(&t, 15, NULL, NULL), 666);
    for (i = 0; i < 1000; i++)
        wrong += (find_number(&t, i) != NULL) != (i % 3 == 0);
    CHECK_EQ(wrong, 0);
    CHECK(t.old.slots == NULL && index_faults(&t) == 0);
    CHECK_EQ(rp_sessions_expire(&t, 20, NULL, NULL), 334);
    CHECK_EQ(t.count, 0);
    rp_sessions_free(&t);
}

static void test_expiry_in_random_order(void)
{
    /* Expiry order unrelated to the records' places, often while a resize
     * is moving records between indexes (tables of 500-600 sessions,
     * around the doubling at 512): a record moved within a batch, then
     * moved again, must be reindexed under its own hash. */
    static int order[600];
    int trial, wrong = 0;
    srand(11);
    for (trial = 0; trial < 200; trial++) {
        rp_sessions t;
        int n = 500 + rand() % 100, i, cut = rand() % n;
        ruphin_addr a = owner(7);
        CHECK_EQ(rp_sessions_init(&t, 1 << 20, (uint64_t)trial), RUPHIN_OK);
        for (i = 0; i < n; i++) {
            CHECK(add_number(&t, i, &a, 1) != NULL);
            order[i] = i;
        }
        for (i = n - 1; i > 0; i--) { /* a random order of refreshes */
            int j = rand() % (i + 1), k = order[i];
            order[i] = order[j], order[j] = k;
        }
        for (i = 0; i < n; i++) /* the i-th refreshed expires at 2 + i */
            rp_sessions_refresh(&t, find_number(&t, order[i]), (uint32_t)(2 + i));
        CHECK_EQ(rp_sessions_expire(&t, 2 + cut - 1, NULL, NULL), cut);
        for (i = 0; i < n; i++)
            wrong += (find_number(&t, order[i]) != NULL) !=
                     (i >= cut);
        CHECK_EQ(rp_sessions_expire(&t, 2 + n, NULL, NULL), n - cut);
        rp_sessions_free(&t);
    }
    CHECK_EQ(wrong, 0);
}

/* Pages of [p, p + size) not resident: mincore on Linux (and the BSDs and
 * macOS, which have it too), the working set on Windows. */
static size_t pages_not_resident(const void *p, size_t size)
{
    size_t missing = size, page, n, i;
#ifdef _WIN32
    PSAPI_WORKING_SET_EX_INFORMATION *info;
    SYSTEM_INFO sys;
    GetSystemInfo(&sys);
    page = sys.dwPageSize;
    n = (size + page - 1) / page;
    info = calloc(n, sizeof *info);
    for (i = 0; info != NULL && i < n; i++)
        info[i].VirtualAddress = (char *)p + i * page;
    if (info != NULL && QueryWorkingSetEx(GetCurrentProcess(), info, (DWORD)(n * sizeof *info)))
        for (missing = i = 0; i < n; i++)
            missing += !info[i].VirtualAttributes.Valid;
    free(info);
#else
    unsigned char *resident;
    uintptr_t start;
    page = (size_t)sysconf(_SC_PAGESIZE);
    start = (uintptr_t)p / page * page; /* mincore takes whole pages only */
    size += (uintptr_t)p - start;
    n = (size + page - 1) / page;
    resident = malloc(n);
    if (resident != NULL && mincore((void *)start, size, (void *)resident) == 0)
        for (missing = i = 0; i < n; i++)
            missing += !(resident[i] & 1);
    free(resident);
#endif
    return missing;
}

static void test_next_index_made_ahead_of_a_doubling(void)
{
    /* A doubling's move inserts all over the new index, which would fault
     * in all its pages in one batch. The index is made over the last
     * capacity / 32 adds before the doubling instead, resident by then; a
     * table less full holds none, one that cannot double makes none, and
     * removals well below the mark give it back. */
    rp_sessions t, capped;
    int i;
    uint32_t *made;
    ruphin_addr a = owner(10);
    CHECK_EQ(rp_sessions_init(&t, 1 << 20, 48), RUPHIN_OK);
    for (i = 0; i < 4096 - 4096 / 32; i++)
        CHECK(add_number(&t, i, &a, 1) != NULL);
    CHECK_EQ(t.capacity, 4096);
    CHECK(t.next_slots == NULL);
    for (; i < 4096; i++)
        CHECK(add_number(&t, i, &a, 1) != NULL);
    made = t.next_slots;
    CHECK(made != NULL && t.next_ready == 4 * 4096 * sizeof(uint32_t));
    CHECK_EQ(pages_not_resident(made, t.next_ready), 0);
    CHECK(add_number(&t, i++, &a, 1) != NULL); /* the doubling */
    CHECK(t.capacity == 8192 && t.index.slots == made && t.next_slots == NULL);
    for (; t.old.slots != NULL; i++) /* the move, into the index made ahead */
        CHECK(add_number(&t, i, &a, 1) != NULL);
    CHECK(all_found(&t, 0, i) && index_faults(&t) == 0);
    for (; i < 8192 - 8192 / 32 + 1; i++)
        CHECK(add_number(&t, i, &a, 1) != NULL);
    CHECK(t.next_slots != NULL); /* the next one begun */
    while (t.count >= 8192 - 8192 / 8)
        rp_sessions_remove(&t, rp_sessions_oldest(&t));
    CHECK(t.next_slots == NULL && t.next_ready == 0);
    rp_sessions_free(&t);

    CHECK_EQ(rp_sessions_init(&capped, 4096, 49), RUPHIN_OK);
    for (i = 0; i < 4096; i++)
        CHECK(add_number(&capped, i, &a, 1) != NULL);
    CHECK(capped.capacity == 4096 && capped.next_slots == NULL);
    rp_sessions_free(&capped);
}

int main(void)
{
    RUN(test_against_model);
    RUN(test_expiry_order_and_shrink);
    RUN(test_hash_collisions_still_found);
    RUN(test_growth_moves_a_few_records_per_add);
    RUN(test_shrinking_moves_incrementally_too);
    RUN(test_arrays_start_on_huge_page_boundaries);
    RUN(test_index_stays_exact_under_churn);
    RUN(test_steady_churn_moves_no_record);
    RUN(test_shrinks_once_a_quarter_full);
    RUN(test_expiry_among_the_moved);
    RUN(test_expiry_in_random_order);
    RUN(test_next_index_made_ahead_of_a_doubling);
    return check_report();
}
