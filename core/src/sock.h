/*
 * The socket driver: the only code that talks to the OS network API.
 * Written against BSD sockets with the few differences of Winsock kept
 * behind #ifdef _WIN32 in sock.c.
 */
#ifndef RUPHIN_SOCK_H
#define RUPHIN_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/ruphin.h" /* relative: the core compiles without -I */
#include "platform.h"

/* The largest datagram sent with segmentation offload (Linux UDP GSO). */
#if RP_LINUX_EXTRAS
enum { RP_GSO_MAX = 65535 };
#else
enum { RP_GSO_MAX = 0 };
#endif

typedef struct rp_sock {
    intptr_t fd;       /* -1 when closed */
    uint8_t family;    /* 4 or 6 */
    bool dual_stack;   /* an IPv6 socket that also carries IPv4 (as mapped addresses) */
    ruphin_addr local; /* as bound, with the port the OS chose */
    size_t gso_limit;  /* datagrams up to this size may share a segmented message;
                          lowered when the path or the system refuses (0: never) */
    int recv_timeout;  /* Linux: the receive timeout set on the socket, ms (0: none yet) */
} rp_sock;

/* Opens a UDP socket bound to addr that no call blocks on but
 * rp_sock_recv_wait (on Linux the descriptor itself is left blocking and
 * every other call asks not to wait; elsewhere it is nonblocking).
 * buffer_size > 0 sets both socket buffers. An IPv6 wildcard address also
 * accepts IPv4. members > 1:
 * it joins a group of that many sockets on addr (SO_REUSEPORT, steer.h),
 * and member 0 installs the group's steering program; Linux only, else
 * RUPHIN_ERR_NOT_SUPPORTED. */
int rp_sock_open(rp_sock *s, const ruphin_addr *addr, int64_t buffer_size, unsigned members,
                 unsigned member);
void rp_sock_close(rp_sock *s);

/* 0, RUPHIN_ERR_WOULD_BLOCK, RUPHIN_ERR_ADDRESS_FAMILY, RUPHIN_ERR_TOO_LARGE
 * or RUPHIN_ERR_IO. */
int rp_sock_send(const rp_sock *s, const ruphin_addr *to, const uint8_t *buf, size_t len);

/* rp_sock_send with an IP TTL (IPv6 hop limit) of its own: the packet
 * dies after ttl routers. Where the TTL cannot be set it goes out as usual. */
int rp_sock_send_ttl(const rp_sock *s, const ruphin_addr *to, const uint8_t *buf, size_t len,
                     int ttl);

/* Datagrams are received a batch at a time (recvmmsg where the OS has it):
 * one system call for many datagrams is what lets a holepuncher run near
 * the machine's UDP limit. */
enum { RP_RX_BATCH_MAX = 64 };

typedef struct rp_rx_batch {
    uint8_t *slots;   /* capacity slots of slot_size bytes */
    size_t slot_size;
    unsigned capacity;
    unsigned count;   /* datagrams in the batch */
    unsigned next;    /* the next one to process */
    size_t lens[RP_RX_BATCH_MAX];
    bool truncated[RP_RX_BATCH_MAX]; /* larger than slot_size: cut short */
    ruphin_addr from[RP_RX_BATCH_MAX];
    void *msgs;       /* Linux: recvmmsg's headers, set up once (sock.c) */
} rp_rx_batch;

int rp_rx_batch_init(rp_rx_batch *b, unsigned capacity, size_t slot_size);
void rp_rx_batch_free(rp_rx_batch *b);
/* Refills an exhausted batch without waiting: the number of datagrams read
 * (0 when none is waiting) or RUPHIN_ERR_IO. */
int rp_sock_recv_batch(const rp_sock *s, rp_rx_batch *b);
/* Refills an exhausted batch, waiting up to timeout_ms (> 0; -1: a long
 * while) for its first datagram: the number read, 0 when none came in time
 * or a signal came first (the caller looks at its clock again), or
 * RUPHIN_ERR_IO. On Linux one blocking recvmmsg, as a plain responder would
 * wait, instead of a poll and then a receive: a system call less per batch. */
int rp_sock_recv_wait(rp_sock *s, rp_rx_batch *b, int timeout_ms);

/* Small frames queued while a batch is processed, sent with one call: up to
 * 128, a holepuncher's answers to a whole receive batch (two datagrams for
 * a Join that finds its session). */
enum { RP_TX_BATCH_MAX = 128, RP_TX_SLOT_SIZE = 64 };

typedef struct rp_tx_batch {
    uint8_t slots[RP_TX_BATCH_MAX][RP_TX_SLOT_SIZE];
    size_t lens[RP_TX_BATCH_MAX];
    ruphin_addr to[RP_TX_BATCH_MAX];
    unsigned count;
} rp_tx_batch;

/* Sends every queued frame and empties the batch; returns how many failed. */
unsigned rp_sock_send_batch(rp_sock *s, rp_tx_batch *b);

/* Sends datagram i (lens[i] bytes at bufs[i]) to to[i], in order, for up to
 * RP_TX_BATCH_MAX of them, with as few system calls as the OS allows
 * (sendmmsg; with offload, on Linux, runs of one length to one address as
 * one segmented message each, up to s->gso_limit bytes a datagram). Stops
 * at the first that fails: returns how many went out, and *error is the
 * failed one's error (rp_sock_send's), else RUPHIN_OK. */
unsigned rp_sock_send_many(rp_sock *s, const ruphin_addr *to, const uint8_t *const *bufs,
                           const size_t *lens, unsigned count, bool offload, int *error);
/* Waits until readable (1) or timeout_ms passed (0); -1 waits forever. */
int rp_sock_wait(const rp_sock *s, int timeout_ms);

/* Sends one datagram to addr from a throwaway socket (used by wake). */
int rp_sock_send_once(const ruphin_addr *to, const uint8_t *buf, size_t len);

/* Resolves "host:port" (host names too) to one address; family 4 or 6
 * restricts it, 0 takes the first the resolver gives. */
int rp_sock_resolve(const char *text, uint16_t default_port, bool port_required, int family,
                    ruphin_addr *out);

/* The host's own addresses usable to reach this socket from a LAN: its
 * bound address, or for a wildcard socket the interfaces' addresses of its
 * family (not loopback, not link-local), each with the socket's port.
 * Returns how many were written (at most max). */
size_t rp_sock_local_addresses(const rp_sock *s, ruphin_addr *out, size_t max);

/* Unpredictable bytes from the OS (getrandom, arc4random, rand_s). */
uint64_t rp_os_random64(void);

/* Milliseconds on a monotonic clock (clock.c). */
int64_t rp_clock_ms(void);

#endif
