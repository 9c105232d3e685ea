/* Address parsing, formatting and comparison. Numeric only: name resolution
 * talks to the OS and lives in sock.c. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <net/if.h>
#endif

static size_t ip_len(const ruphin_addr *a)
{
    return a->family == 4 ? 4 : a->family == 6 ? 16 : 0;
}

bool rp_addr_same_host(const ruphin_addr *a, const ruphin_addr *b)
{
    return a->family == b->family && a->family != 0 &&
           memcmp(a->ip, b->ip, ip_len(a)) == 0 &&
           (a->family == 4 || a->scope_id == b->scope_id);
}

bool rp_addr_same(const ruphin_addr *a, const ruphin_addr *b)
{
    return rp_addr_same_host(a, b) && a->port == b->port;
}

bool rp_addr_is_loopback(const ruphin_addr *a)
{
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (a->family == 4)
        return a->ip[0] == 127;
    return a->family == 6 && memcmp(a->ip, v6_loopback, 16) == 0;
}

bool rp_addr_is_any(const ruphin_addr *a)
{
    static const uint8_t zeros[16];
    return a->family != 0 && memcmp(a->ip, zeros, ip_len(a)) == 0;
}

int32_t ruphin_addr_equal(const ruphin_addr *a, const ruphin_addr *b)
{
    if (a == NULL || b == NULL)
        return RUPHIN_ERR_INVALID;
    return rp_addr_same(a, b) ? 1 : 0;
}

/* Parses a decimal port of 1..5 digits (0..65535). */
static int parse_port(const char *text, uint16_t *port)
{
    char *end;
    unsigned long v;
    if (*text < '0' || *text > '9' || strlen(text) > 5)
        return RUPHIN_ERR_ADDRESS;
    v = strtoul(text, &end, 10);
    if (*end != '\0' || v > 65535)
        return RUPHIN_ERR_ADDRESS;
    *port = (uint16_t)v;
    return RUPHIN_OK;
}

/* Splits "host:port", "[v6]:port", "host", "[v6]" or a bare IPv6 address
 * into host (without brackets) and port text (NULL when absent). */
static int split_host_port(char *text, char **host, char **port)
{
    char *colon;
    *port = NULL;
    if (text[0] == '[') {
        char *close = strchr(text, ']');
        if (close == NULL)
            return RUPHIN_ERR_ADDRESS;
        *close = '\0';
        *host = text + 1;
        if (close[1] == ':')
            *port = close + 2;
        else if (close[1] != '\0')
            return RUPHIN_ERR_ADDRESS;
        return RUPHIN_OK;
    }
    *host = text;
    colon = strrchr(text, ':');
    if (colon != NULL && strchr(text, ':') == colon) { /* exactly one colon: host:port */
        *colon = '\0';
        *port = colon + 1;
    }
    return RUPHIN_OK;
}

int rp_addr_split(const char *text, uint16_t default_port, bool port_required, char *host,
                  size_t host_size, uint16_t *port)
{
    char buf[RUPHIN_ADDRSTRLEN + 256];
    char *h, *p;
    int rc;

    if (text == NULL || host == NULL || port == NULL || strlen(text) >= sizeof buf)
        return text == NULL || host == NULL || port == NULL ? RUPHIN_ERR_INVALID
                                                            : RUPHIN_ERR_ADDRESS;
    strcpy(buf, text);
    rc = split_host_port(buf, &h, &p);
    if (rc != RUPHIN_OK || *h == '\0' || strlen(h) >= host_size)
        return RUPHIN_ERR_ADDRESS;
    if (p != NULL) {
        rc = parse_port(p, port);
        if (rc != RUPHIN_OK)
            return rc;
    } else if (port_required) {
        return RUPHIN_ERR_ADDRESS;
    } else {
        *port = default_port;
    }
    strcpy(host, h);
    return RUPHIN_OK;
}

/* Parses a numeric IPv4 or IPv6 host, with an optional "%scope" for IPv6. */
static int parse_numeric_host(char *host, ruphin_addr *out)
{
    char *percent = strchr(host, '%');
    if (percent == NULL && inet_pton(AF_INET, host, out->ip) == 1) {
        out->family = 4;
        return RUPHIN_OK;
    }
    if (percent != NULL) {
        *percent = '\0';
#ifndef _WIN32 /* Windows: numeric scopes only ("fe80::1%12") */
        out->scope_id = (uint32_t)if_nametoindex(percent + 1);
#endif
        if (out->scope_id == 0)
            out->scope_id = (uint32_t)strtoul(percent + 1, NULL, 10);
        if (out->scope_id == 0)
            return RUPHIN_ERR_ADDRESS;
    }
    if (inet_pton(AF_INET6, host, out->ip) == 1) {
        out->family = 6;
        return RUPHIN_OK;
    }
    return RUPHIN_ERR_ADDRESS;
}

int rp_addr_parse(const char *text, uint16_t default_port, bool port_required,
                  ruphin_addr *out)
{
    char host[RUPHIN_ADDRSTRLEN];
    ruphin_addr a;
    int rc;

    if (out == NULL)
        return RUPHIN_ERR_INVALID;
    memset(&a, 0, sizeof a);
    rc = rp_addr_split(text, default_port, port_required, host, sizeof host, &a.port);
    if (rc == RUPHIN_OK)
        rc = parse_numeric_host(host, &a);
    if (rc == RUPHIN_OK)
        *out = a;
    return rc;
}

int32_t ruphin_addr_parse(const char *text, uint16_t default_port, ruphin_addr *out)
{
    return rp_addr_parse(text, default_port, default_port == 0, out);
}

int32_t ruphin_addr_format(const ruphin_addr *addr, char *buf, size_t size)
{
    char ip[64];
    int n;

    if (addr == NULL || buf == NULL || size == 0)
        return RUPHIN_ERR_INVALID;
    if (addr->family == 4) {
        inet_ntop(AF_INET, addr->ip, ip, sizeof ip);
        n = snprintf(buf, size, "%s:%u", ip, (unsigned)addr->port);
    } else if (addr->family == 6) {
        inet_ntop(AF_INET6, addr->ip, ip, sizeof ip);
        if (addr->scope_id != 0)
            n = snprintf(buf, size, "[%s%%%lu]:%u", ip, (unsigned long)addr->scope_id,
                         (unsigned)addr->port);
        else
            n = snprintf(buf, size, "[%s]:%u", ip, (unsigned)addr->port);
    } else {
        return RUPHIN_ERR_ADDRESS_FAMILY;
    }
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return RUPHIN_ERR_BUFFER;
    }
    return n;
}
