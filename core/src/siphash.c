/* SipHash-2-4; see siphash.h. Written from the paper's description. */
#include "siphash.h"

#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

typedef struct sipstate {
    uint64_t v0, v1, v2, v3;
} sipstate;

static void sipround(sipstate *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Two compression rounds per 8-byte word. */
static void absorb(sipstate *s, uint64_t m)
{
    s->v3 ^= m;
    sipround(s);
    sipround(s);
    s->v0 ^= m;
}

uint64_t rp_siphash(const rp_sipkey *key, const uint8_t *data, size_t len)
{
    sipstate s = {key->k0 ^ 0x736f6d6570736575ull, key->k1 ^ 0x646f72616e646f6dull,
                  key->k0 ^ 0x6c7967656e657261ull, key->k1 ^ 0x7465646279746573ull};
    uint8_t last[8] = {0};
    size_t full = len - len % 8, i;

    for (i = 0; i < full; i += 8)
        absorb(&s, load_le64(data + i));
    if (len > full)
        memcpy(last, data + full, len - full);
    last[7] = (uint8_t)len;
    absorb(&s, load_le64(last));
    /* Four finalisation rounds. */
    s.v2 ^= 0xff;
    for (i = 0; i < 4; i++)
        sipround(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t rp_siphash_addr(const rp_sipkey *key, const ruphin_addr *addr, const uint8_t *extra,
                         size_t extra_len)
{
    uint8_t buf[1 + 16 + 2 + 64];
    size_t n = 0, ip_len = addr->family == 4 ? 4 : 16;
    if (extra_len > 64)
        extra_len = 64;
    buf[n++] = addr->family;
    memcpy(buf + n, addr->ip, ip_len);
    n += ip_len;
    buf[n++] = (uint8_t)(addr->port >> 8);
    buf[n++] = (uint8_t)addr->port;
    if (extra_len > 0)
        memcpy(buf + n, extra, extra_len);
    return rp_siphash(key, buf, n + extra_len);
}
