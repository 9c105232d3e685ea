/* Address helpers shared inside the core (the public ones are in ruphin.h). */
#ifndef RUPHIN_ADDR_H
#define RUPHIN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "../include/ruphin.h" /* relative: the core compiles without -I */

/* Same family, ip, port and scope. */
bool rp_addr_same(const ruphin_addr *a, const ruphin_addr *b);
/* 127.0.0.0/8 or ::1. */
bool rp_addr_is_loopback(const ruphin_addr *a);
/* 0.0.0.0 or ::. */
bool rp_addr_is_any(const ruphin_addr *a);
/* Same family and ip, any port. */
bool rp_addr_same_host(const ruphin_addr *a, const ruphin_addr *b);

/* Splits "host:port" / "[v6]:port" / "host" into host text and port. When
 * the port is absent it is default_port, or an error if port_required. */
int rp_addr_split(const char *text, uint16_t default_port, bool port_required, char *host,
                  size_t host_size, uint16_t *port);
/* ruphin_addr_parse with the same port rule. */
int rp_addr_parse(const char *text, uint16_t default_port, bool port_required,
                  ruphin_addr *out);

#endif
