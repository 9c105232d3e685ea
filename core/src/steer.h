/*
 * The steering of a holepuncher group (RUPHIN_OPT_WORKERS): N holepunchers
 * share one port with SO_REUSEPORT, and a classic BPF program attached to
 * the group picks the member for each datagram from the frame, so that a
 * Register and every Join for one id reach the same member (which then
 * needs no shared table and no lock):
 *
 *   Register (2), Join (3):          id = bytes 4.., its length the rest
 *   RegisterExt (11), JoinExt (12),
 *   Unregister (18):                 id length at byte 4, id from byte 5
 *   a join probe (RegisterAck, 6,
 *   starting ff 6a):                 id length at byte 6, id from byte 7
 *   Relay (15):                      the low 32 bits of the nonce (bytes 8..11);
 *                                    member i picks nonces equal to i mod N
 *   anything else (HelloReq, ...):   no choice: the kernel's 4-tuple hash
 *
 * For an id: FNV-1a (32 bits) of the id, modulo N.
 */
#ifndef RUPHIN_STEER_H
#define RUPHIN_STEER_H

#include <stddef.h>
#include <stdint.h>

enum { RP_STEER_MAX_INSNS = 256 };

#ifdef __linux__
struct sock_filter;
/* Writes the program for a group of `members` into insns (room for
 * RP_STEER_MAX_INSNS); returns its length. */
size_t rp_steer_program(struct sock_filter *insns, unsigned members);
#endif

/* nonce changed (never to 0) so that a Relay frame carrying it is steered
 * to member of a group of members. */
uint64_t rp_steer_nonce(uint64_t nonce, unsigned member, unsigned members);

#endif
