/*
 * SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit MAC for short inputs.
 * The holepuncher uses it for the tokens and cookies that it hands out and
 * later checks (docs/SECURITY.md): an attacker who does not know the key
 * can only guess them, one datagram per guess.
 */
#ifndef RUPHIN_SIPHASH_H
#define RUPHIN_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#include "../include/ruphin.h" /* relative: the core compiles without -I */

typedef struct rp_sipkey {
    uint64_t k0, k1;
} rp_sipkey;

uint64_t rp_siphash(const rp_sipkey *key, const uint8_t *data, size_t len);

/* The MAC of an address (family, ip, port) followed by extra bytes. */
uint64_t rp_siphash_addr(const rp_sipkey *key, const ruphin_addr *addr, const uint8_t *extra,
                         size_t extra_len);

#endif
