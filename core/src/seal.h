/*
 * Sealed peers: Data between a server and its clients that share a key,
 * authenticated and encrypted end to end (XChaCha20-Poly1305 from libsodium)
 * with replay protection. Pure functions over caller-owned state: no socket,
 * no clock. See docs/SECURITY.md ("Sealed sessions") and docs/PROTOCOL.md.
 *
 * Each side of a connection picks a random 64-bit epoch. A Sealed frame
 * carries its sender's epoch, the epoch it is meant for and a counter:
 *   kind (u8) | sender epoch (u64) | receiver epoch (u64) | counter (u64) |
 *   ciphertext | tag (16)
 * The three numbers form the 24-byte nonce and, with the frame header, the
 * associated data. A side learns its peer's epoch only from a SealHello that
 * names its own current epoch (so it is fresh), and takes Data only for its
 * own epoch from the peer's: datagrams of an earlier connection, of the
 * other direction or replayed within this one (a 64-counter window) fail.
 *
 * Built without libsodium (RUPHIN_WITH_SODIUM undefined), rp_seal_supported()
 * is 0 and nodes refuse a key.
 */
#ifndef RUPHIN_SEAL_H
#define RUPHIN_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

enum {
    RP_SEAL_KEY_LEN = 32,
    RP_SEAL_RETIRED = 4,   /* earlier peer epochs remembered (never taken again) */
    RP_SEAL_KEYS_DIFFER = 3 /* SealHellos that fail to verify before the seal is
                               ready: the peer holds another key */
};

typedef struct rp_seal {
    uint64_t mine;    /* our epoch; 0: sealing not started */
    uint64_t peer;    /* the peer's, once proven fresh; 0: not yet */
    uint64_t retired[RP_SEAL_RETIRED];
    uint64_t sent;    /* counter of the frames we sealed */
    uint64_t top;     /* highest counter taken from the peer */
    uint64_t window;  /* bit i: counter top - i was taken */
    uint8_t unverified_hellos; /* SealHellos that failed to verify while not ready */
} rp_seal;

/* What rp_seal_open found. */
typedef enum rp_seal_result {
    RP_SEAL_REJECTED = 0,   /* forged, tampered, replayed or for another epoch */
    RP_SEAL_HELLO_STALE,    /* an authentic hello that does not know our epoch: answer it */
    RP_SEAL_HELLO_KNOWN,    /* an authentic hello that tells nothing new */
    RP_SEAL_HELLO_FRESH,    /* the peer's epoch learned (or changed): answer it */
    RP_SEAL_OPENED          /* Data: *plain, *plain_len hold the payload */
} rp_seal_result;

bool rp_seal_supported(void);
/* The key of one session: a keyed hash of the shared key and the session id,
 * so that one shared key never seals two sessions alike. */
void rp_seal_session_key(const uint8_t shared[RP_SEAL_KEY_LEN], const uint8_t *id,
                         size_t id_len, uint8_t out[RP_SEAL_KEY_LEN]);
/* A random shared key; false without libsodium. */
bool rp_seal_random_key(uint8_t out[RP_SEAL_KEY_LEN]);
/* Starts sealing a connection with our epoch (nonzero, random). */
void rp_seal_start(rp_seal *s, uint64_t mine);
bool rp_seal_ready(const rp_seal *s);
/* Whether the peer seals under another key: RP_SEAL_KEYS_DIFFER of its
 * SealHellos failed to verify and none made the seal ready. A peer gives up
 * then (RUPHIN_ERR_AUTH) instead of waiting out the handshake timeout. (Who
 * can send from the peer's address can forge this, as it can stop the
 * handshake by other means: the peers share no key to tell.) */
bool rp_seal_keys_differ(const rp_seal *s);
/* A SealHello naming `echo` (the epoch it answers; 0 = none) as receiver.
 * Both encoders return the frame's length, 0 when it does not fit. */
size_t rp_seal_hello(const uint8_t key[RP_SEAL_KEY_LEN], rp_seal *s, uint64_t echo,
                     uint8_t *buf, size_t cap);
/* Sealed Data for the peer; needs rp_seal_ready(). */
size_t rp_seal_data(const uint8_t key[RP_SEAL_KEY_LEN], rp_seal *s, const uint8_t *data,
                    size_t len, uint8_t *buf, size_t cap);
/* Authenticates and decrypts a Sealed frame in place (the frame's buffer
 * belongs to the driver). *echo: the sender's epoch, to answer a hello. */
rp_seal_result rp_seal_open(const uint8_t key[RP_SEAL_KEY_LEN], rp_seal *s, const rp_frame *f,
                            uint64_t *echo, const uint8_t **plain, size_t *plain_len);

#endif
