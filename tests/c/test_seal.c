/* Sealed peers (core/src/seal.c): the epoch handshake, and that forged,
 * tampered, replayed, reflected and earlier-connection datagrams fail. */
#include "check.h"
#include "seal.h"

static uint8_t key[RP_SEAL_KEY_LEN], other_key[RP_SEAL_KEY_LEN];

/* A datagram as it arrives: copied (opening decrypts in place), decoded,
 * opened by `to`. */
static rp_seal_result deliver_with(const uint8_t *k, rp_seal *to, const uint8_t *frame,
                                   size_t len, uint64_t *echo, const uint8_t **plain,
                                   size_t *plain_len)
{
    static uint8_t copy[256];
    rp_frame f;
    memcpy(copy, frame, len);
    if (rp_wire_decode(copy, len, &f) != RP_WIRE_OK)
        return RP_SEAL_REJECTED;
    return rp_seal_open(k, to, &f, echo, plain, plain_len);
}

static rp_seal_result deliver(rp_seal *to, const uint8_t *frame, size_t len, uint64_t *echo)
{
    const uint8_t *plain;
    size_t plain_len;
    return deliver_with(key, to, frame, len, echo, &plain, &plain_len);
}

/* Runs the hello exchange between a and b to the end; true when both are ready. */
static bool handshake(rp_seal *a, rp_seal *b)
{
    uint8_t buf[64];
    uint64_t echo = 0;
    rp_seal *from = a, *to = b, *t;
    int rounds;
    size_t n = rp_seal_hello(key, from, 0, buf, sizeof buf);
    for (rounds = 0; rounds < 6 && n > 0; rounds++) {
        rp_seal_result r = deliver(to, buf, n, &echo);
        if (r == RP_SEAL_HELLO_KNOWN || r == RP_SEAL_REJECTED)
            break;
        t = from, from = to, to = t; /* the receiver answers */
        n = rp_seal_hello(key, from, echo, buf, sizeof buf);
    }
    return rp_seal_ready(a) && rp_seal_ready(b) && a->peer == b->mine && b->peer == a->mine;
}

/* 1 when needle occurs in buf. */
static bool contains(const uint8_t *buf, size_t n, const char *needle)
{
    size_t i, k = strlen(needle);
    for (i = 0; i + k <= n; i++)
        if (memcmp(buf + i, needle, k) == 0)
            return true;
    return false;
}

static size_t seal_text(rp_seal *s, const char *text, uint8_t *buf, size_t cap)
{
    return rp_seal_data(key, s, (const uint8_t *)text, strlen(text), buf, cap);
}

static void test_handshake_and_data(void)
{
    rp_seal a, b;
    uint8_t buf[128];
    const uint8_t *plain;
    size_t n, plain_len;
    uint64_t echo;
    rp_seal_start(&a, 111);
    rp_seal_start(&b, 222);
    CHECK(seal_text(&a, "early", buf, sizeof buf) == 0); /* no peer epoch yet */
    CHECK(handshake(&a, &b));
    n = seal_text(&a, "hello b", buf, sizeof buf);
    CHECK_EQ(n, RP_HEADER_LEN + RP_SEAL_OVERHEAD + 7);
    CHECK(!contains(buf, n, "hello b")); /* encrypted on the wire */
    CHECK_EQ(deliver_with(key, &b, buf, n, &echo, &plain, &plain_len), RP_SEAL_OPENED);
    CHECK(plain_len == 7 && memcmp(plain, "hello b", 7) == 0);
    n = seal_text(&b, "", buf, sizeof buf); /* empty payloads work too */
    CHECK_EQ(deliver_with(key, &a, buf, n, &echo, &plain, &plain_len), RP_SEAL_OPENED);
    CHECK_EQ(plain_len, 0);
}

static void test_tampered_and_forged(void)
{
    rp_seal a, b;
    uint8_t buf[128], bad[128];
    uint64_t echo;
    size_t n, i;
    rp_seal_start(&a, 1);
    rp_seal_start(&b, 2);
    CHECK(handshake(&a, &b));
    n = seal_text(&a, "payload", buf, sizeof buf);
    for (i = RP_HEADER_LEN; i < n; i++) { /* every bit of every byte after the header */
        int bit;
        for (bit = 0; bit < 8; bit++) {
            memcpy(bad, buf, n);
            bad[i] ^= (uint8_t)(1 << bit);
            CHECK_EQ(deliver(&b, bad, n, &echo), RP_SEAL_REJECTED);
        }
    }
    memset(other_key, 7, sizeof other_key); /* sealed by someone without our key */
    {
        const uint8_t *plain;
        size_t plain_len;
        rp_seal forger = a;
        n = rp_seal_data(other_key, &forger, (const uint8_t *)"x", 1, buf, sizeof buf);
        CHECK_EQ(deliver_with(key, &b, buf, n, &echo, &plain, &plain_len), RP_SEAL_REJECTED);
        n = rp_seal_hello(other_key, &forger, b.mine, buf, sizeof buf);
        CHECK_EQ(deliver(&b, buf, n, &echo), RP_SEAL_REJECTED);
    }
    n = seal_text(&a, "ok", buf, sizeof buf); /* the rejected ones cost b nothing */
    CHECK_EQ(deliver(&b, buf, n, &echo), RP_SEAL_OPENED);
}

static void test_replay_window(void)
{
    rp_seal a, b;
    uint8_t frames[80][64];
    size_t lens[80];
    uint64_t echo;
    int i;
    rp_seal_start(&a, 5);
    rp_seal_start(&b, 6);
    CHECK(handshake(&a, &b));
    for (i = 0; i < 80; i++)
        lens[i] = seal_text(&a, "d", frames[i], sizeof frames[i]);
    CHECK_EQ(deliver(&b, frames[10], lens[10], &echo), RP_SEAL_OPENED);
    CHECK_EQ(deliver(&b, frames[10], lens[10], &echo), RP_SEAL_REJECTED); /* replayed */
    CHECK_EQ(deliver(&b, frames[3], lens[3], &echo), RP_SEAL_OPENED);     /* late is fine */
    CHECK_EQ(deliver(&b, frames[3], lens[3], &echo), RP_SEAL_REJECTED);
    CHECK_EQ(deliver(&b, frames[79], lens[79], &echo), RP_SEAL_OPENED);
    CHECK_EQ(deliver(&b, frames[20], lens[20], &echo), RP_SEAL_OPENED);  /* within 64 */
    CHECK_EQ(deliver(&b, frames[4], lens[4], &echo), RP_SEAL_REJECTED);  /* too old to tell */
    CHECK_EQ(deliver(&b, frames[79], lens[79], &echo), RP_SEAL_REJECTED);
}

static void test_reflection_and_other_connections(void)
{
    rp_seal a, b, b_again;
    uint8_t old_data[64], old_hello[64], buf[64];
    size_t n_data, n_hello, n;
    uint64_t echo;
    rp_seal_start(&a, 10);
    rp_seal_start(&b, 20);
    CHECK(handshake(&a, &b));
    n = seal_text(&a, "to b", buf, sizeof buf);
    CHECK_EQ(deliver(&a, buf, n, &echo), RP_SEAL_REJECTED); /* reflected back at its sender */
    n_data = seal_text(&a, "old", old_data, sizeof old_data);
    n_hello = rp_seal_hello(key, &a, b.mine, old_hello, sizeof old_hello);

    /* b starts a new connection (a new epoch): a's old datagrams are for the old one. */
    rp_seal_start(&b_again, 21);
    CHECK_EQ(deliver(&b_again, old_data, n_data, &echo), RP_SEAL_REJECTED);
    CHECK_EQ(deliver(&b_again, old_hello, n_hello, &echo), RP_SEAL_HELLO_STALE);
    CHECK(!rp_seal_ready(&b_again));

    /* a restarts while b keeps its epoch: b takes the new epoch, and never
     * goes back to the old one on a replayed hello, so old Data stays dead. */
    rp_seal_start(&a, 11);
    CHECK(handshake(&a, &b));
    CHECK_EQ(deliver(&b, old_hello, n_hello, &echo), RP_SEAL_REJECTED);
    CHECK_EQ(b.peer, 11);
    CHECK_EQ(deliver(&b, old_data, n_data, &echo), RP_SEAL_REJECTED);
}

static void test_session_keys(void)
{
    uint8_t k1[RP_SEAL_KEY_LEN], k2[RP_SEAL_KEY_LEN], k3[RP_SEAL_KEY_LEN];
    rp_seal_session_key(key, (const uint8_t *)"game-1", 6, k1);
    rp_seal_session_key(key, (const uint8_t *)"game-2", 6, k2);
    rp_seal_session_key(key, (const uint8_t *)"game-1", 6, k3);
    CHECK(memcmp(k1, k2, sizeof k1) != 0);
    CHECK(memcmp(k1, k3, sizeof k1) == 0);
    CHECK(memcmp(k1, key, sizeof k1) != 0);
}

/* A peer with another key: its SealHellos never verify. After
 * RP_SEAL_KEYS_DIFFER of them (and none that verified) the keys differ;
 * Data and hellos of a ready seal never count; an authentic hello before
 * the limit makes the seal ready and the count no longer matters. */
static void test_keys_differ_after_unverified_hellos(void)
{
    rp_seal mine, stranger, friend_;
    uint8_t buf[128], strange_key[RP_SEAL_KEY_LEN];
    uint64_t echo;
    size_t n;
    int i;
    memset(strange_key, 9, sizeof strange_key);
    rp_seal_start(&mine, 5);
    rp_seal_start(&stranger, 6);
    CHECK(!rp_seal_keys_differ(&mine));
    for (i = 1; i <= RP_SEAL_KEYS_DIFFER; i++) {
        CHECK(!rp_seal_keys_differ(&mine));
        n = rp_seal_hello(strange_key, &stranger, 0, buf, sizeof buf);
        CHECK_EQ(deliver(&mine, buf, n, &echo), RP_SEAL_REJECTED);
    }
    CHECK(rp_seal_keys_differ(&mine));
    /* Unverified hellos below the limit, then the real peer: ready, no verdict. */
    rp_seal_start(&mine, 7);
    rp_seal_start(&friend_, 8);
    n = rp_seal_hello(strange_key, &stranger, 0, buf, sizeof buf);
    CHECK_EQ(deliver(&mine, buf, n, &echo), RP_SEAL_REJECTED);
    CHECK(handshake(&mine, &friend_));
    for (i = 0; i < 2 * RP_SEAL_KEYS_DIFFER; i++) {
        n = rp_seal_hello(strange_key, &stranger, 0, buf, sizeof buf);
        CHECK_EQ(deliver(&mine, buf, n, &echo), RP_SEAL_REJECTED);
    }
    CHECK(!rp_seal_keys_differ(&mine));
}

int main(void)
{
    if (!rp_seal_supported()) {
        rp_seal s;
        uint8_t buf[64];
        rp_seal_start(&s, 1);
        CHECK_EQ(rp_seal_hello(key, &s, 0, buf, sizeof buf), 0); /* nothing sealed without libsodium */
        printf("built without libsodium: sealing is off\n");
        return check_report();
    }
    CHECK(rp_seal_random_key(key));
    RUN(test_handshake_and_data);
    RUN(test_tampered_and_forged);
    RUN(test_replay_window);
    RUN(test_reflection_and_other_connections);
    RUN(test_session_keys);
    RUN(test_keys_differ_after_unverified_hellos);
    return check_report();
}
