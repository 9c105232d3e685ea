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

#include "ruphin.h"

typedef struct rp_sock {
    intptr_t fd;       /* -1 when closed */
    uint8_t family;    /* 4 or 6 */
    bool dual_stack;   /* an IPv6 socket that also carries IPv4 (as mapped addresses) */
    ruphin_addr local; /* as bound, with the port the OS chose */
} rp_sock;

/* Opens a nonblocking UDP socket bound to addr. buffer_size > 0 sets both
 * socket buffers. An IPv6 wildcard address also accepts IPv4. */
int rp_sock_open(rp_sock *s, const ruphin_addr *addr, int64_t buffer_size);
void rp_sock_close(rp_sock *s);

/* 0, RUPHIN_ERR_WOULD_BLOCK, RUPHIN_ERR_ADDRESS_FAMILY, RUPHIN_ERR_TOO_LARGE
 * or RUPHIN_ERR_IO. */
int rp_sock_send(const rp_sock *s, const ruphin_addr *to, const uint8_t *buf, size_t len);
/* 1 with a datagram, 0 when none is waiting, or RUPHIN_ERR_IO. */
int rp_sock_recv(const rp_sock *s, uint8_t *buf, size_t cap, size_t *len, ruphin_addr *from);
/* Waits until readable (1) or timeout_ms passed (0); -1 waits forever. */
int rp_sock_wait(const rp_sock *s, int timeout_ms);

/* Sends one datagram to addr from a throwaway socket (used by wake). */
int rp_sock_send_once(const ruphin_addr *to, const uint8_t *buf, size_t len);

/* Resolves "host:port" (host names too) to one address; family 4 or 6
 * restricts it, 0 takes the first the resolver gives. */
int rp_sock_resolve(const char *text, uint16_t default_port, bool port_required, int family,
                    ruphin_addr *out);

/* Milliseconds on a monotonic clock (clock.c). */
int64_t rp_clock_ms(void);

#endif
