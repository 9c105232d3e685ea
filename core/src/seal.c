/* Sealed peers (seal.h): epochs, the replay window, and libsodium's
 * XChaCha20-Poly1305 and BLAKE2b doing all of the cryptography. */
#include "seal.h"

#include <string.h>

#ifdef RUPHIN_WITH_SODIUM
#include <sodium.h>

/* 1 when libsodium initialised (it is safe to ask from any thread). */
static bool sodium_ready(void)
{
    return sodium_init() >= 0;
}

/* The associated data: the frame header and the seal header. The nonce is
 * the seal header's two epochs and counter. */
static void seal_body(const uint8_t *key, uint8_t *frame, const uint8_t *plain, size_t len)
{
    uint8_t *header = frame + RP_HEADER_LEN;
    crypto_aead_xchacha20poly1305_ietf_encrypt(header + RP_SEAL_HEADER_LEN, NULL, plain, len,
                                               frame, RP_HEADER_LEN + RP_SEAL_HEADER_LEN, NULL,
                                               header + 1, key);
}

/* Checks the tag and decrypts in place; false when anything was changed. */
static bool open_body(const uint8_t *key, const rp_frame *f)
{
    const uint8_t *frame = f->payload - RP_HEADER_LEN; /* the decoder's buffer */
    uint8_t *body = (uint8_t *)f->payload + RP_SEAL_HEADER_LEN;
    size_t body_len = f->payload_len - RP_SEAL_HEADER_LEN;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(body, NULL, NULL, body, body_len, frame,
                                                      RP_HEADER_LEN + RP_SEAL_HEADER_LEN,
                                                      f->payload + 1, key) == 0;
}

bool rp_seal_supported(void)
{
    return sodium_ready();
}

void rp_seal_session_key(const uint8_t shared[RP_SEAL_KEY_LEN], const uint8_t *id,
                         size_t id_len, uint8_t out[RP_SEAL_KEY_LEN])
{
    static const char label[] = "ruphin seal v1";
    crypto_generichash_state h;
    sodium_ready();
    crypto_generichash_init(&h, shared, RP_SEAL_KEY_LEN, RP_SEAL_KEY_LEN);
    crypto_generichash_update(&h, (const uint8_t *)label, sizeof label);
    crypto_generichash_update(&h, id, id_len);
    crypto_generichash_final(&h, out, RP_SEAL_KEY_LEN);
}

bool rp_seal_random_key(uint8_t out[RP_SEAL_KEY_LEN])
{
    if (!sodium_ready())
        return false;
    randombytes_buf(out, RP_SEAL_KEY_LEN);
    return true;
}

#else /* built without libsodium: sealing is not available */

bool rp_seal_random_key(uint8_t out[RP_SEAL_KEY_LEN])
{
    (void)out;
    return false;
}

static void seal_body(const uint8_t *key, uint8_t *frame, const uint8_t *plain, size_t len)
{
    (void)key, (void)frame, (void)plain, (void)len;
}

static bool open_body(const uint8_t *key, const rp_frame *f)
{
    (void)key, (void)f;
    return false;
}

bool rp_seal_supported(void)
{
    return false;
}

void rp_seal_session_key(const uint8_t shared[RP_SEAL_KEY_LEN], const uint8_t *id,
                         size_t id_len, uint8_t out[RP_SEAL_KEY_LEN])
{
    (void)shared, (void)id, (void)id_len;
    memset(out, 0, RP_SEAL_KEY_LEN);
}

#endif

void rp_seal_start(rp_seal *s, uint64_t mine)
{
    memset(s, 0, sizeof *s);
    s->mine = mine != 0 ? mine : 1;
}

bool rp_seal_ready(const rp_seal *s)
{
    return s->mine != 0 && s->peer != 0;
}

bool rp_seal_keys_differ(const rp_seal *s)
{
    return !rp_seal_ready(s) && s->unverified_hellos >= RP_SEAL_KEYS_DIFFER;
}

/* One sealed frame of `kind` with len bytes of plaintext. */
static size_t seal_frame(const uint8_t *key, rp_seal *s, uint8_t kind, uint64_t receiver,
                         const uint8_t *plain, size_t len, uint8_t *buf, size_t cap)
{
    size_t total;
    if (s->mine == 0 || !rp_seal_supported())
        return 0;
    total = rp_wire_encode_sealed(buf, cap, kind, s->mine, receiver, ++s->sent,
                                  len + RP_SEAL_TAG_LEN);
    if (total != 0)
        seal_body(key, buf, plain, len);
    return total;
}

size_t rp_seal_hello(const uint8_t key[RP_SEAL_KEY_LEN], rp_seal *s, uint64_t echo,
                     uint8_t *buf, size_t cap)
{
    return seal_frame(key, s, RP_SEAL_HELLO, echo, NULL, 0, buf, cap);
}

size_t rp_seal_data(const uint8_t key[RP_SEAL_KEY_LEN], rp_seal *s, const uint8_t *data,
                    size_t len, uint8_t *buf, size_t cap)
{
    if (!rp_seal_ready(s) || (data == NULL && len > 0))
        return 0;
    return seal_frame(key, s, RP_SEAL_DATA, s->peer, data, len, buf, cap);
}

/* The replay window: a counter is fresh when it is above the highest taken
 * or within the last 64 and not taken yet. */
static bool counter_fresh(const rp_seal *s, uint64_t c)
{
    if (c > s->top)
        return true;
    if (c == 0 || s->top - c >= 64)
        return false;
    return ((s->window >> (s->top - c)) & 1) == 0;
}

static void counter_take(rp_seal *s, uint64_t c)
{
    if (c > s->top) {
        uint64_t shift = c - s->top;
        s->window = shift >= 64 ? 0 : s->window << shift;
        s->top = c;
    }
    s->window |= (uint64_t)1 << (s->top - c);
}

static bool retired(const rp_seal *s, uint64_t epoch)
{
    int i;
    for (i = 0; i < RP_SEAL_RETIRED; i++)
        if (s->retired[i] == epoch)
            return true;
    return false;
}

/* The peer's epoch, proven fresh: a new one replaces the old for good (so
 * that a replayed hello of an earlier connection cannot bring it back). */
static rp_seal_result take_hello(rp_seal *s, const rp_frame *f)
{
    if (f->epoch_to != s->mine)
        return RP_SEAL_HELLO_STALE;
    if (f->nonce == s->peer)
        return RP_SEAL_HELLO_KNOWN;
    if (f->nonce == 0 || retired(s, f->nonce))
        return RP_SEAL_REJECTED;
    if (s->peer != 0) {
        memmove(s->retired + 1, s->retired, sizeof s->retired - sizeof s->retired[0]);
        s->retired[0] = s->peer;
    }
    s->peer = f->nonce;
    s->top = s->window = 0;
    return RP_SEAL_HELLO_FRESH;
}

rp_seal_result rp_seal_open(const uint8_t key[RP_SEAL_KEY_LEN], rp_seal *s, const rp_frame *f,
                            uint64_t *echo, const uint8_t **plain, size_t *plain_len)
{
    bool data = f->flags == RP_SEAL_DATA;
    *echo = f->nonce;
    *plain = NULL;
    *plain_len = 0;
    if (f->type != RP_FRAME_SEALED || s->mine == 0)
        return RP_SEAL_REJECTED;
    /* Data for another epoch, or replayed: no need to look further. */
    if (data && (!rp_seal_ready(s) || f->epoch_to != s->mine || f->nonce != s->peer ||
                 !counter_fresh(s, f->counter)))
        return RP_SEAL_REJECTED;
    if (!open_body(key, f)) {
        if (!data && !rp_seal_ready(s) && s->unverified_hellos < RP_SEAL_KEYS_DIFFER)
            s->unverified_hellos++;
        return RP_SEAL_REJECTED;
    }
    if (!data)
        return take_hello(s, f);
    counter_take(s, f->counter);
    *plain = f->payload + RP_SEAL_HEADER_LEN;
    *plain_len = f->payload_len - RP_SEAL_OVERHEAD;
    return RP_SEAL_OPENED;
}
