/* The socket driver's batch sends (core/src/sock.c) over loopback: every
 * datagram reaches its own destination whole, with segmentation offload
 * (GSO) and without, and when the path's MTU refuses a segment size; the
 * first failure stops rp_sock_send_many and is reported with how many went,
 * and rp_sock_send_batch skips a failure and goes on.
 * "test_sock --small-mtu" runs the MTU test alone, in a network namespace
 * whose loopback has an MTU of 1300 (tests/c/test_core.py sets it up). */
#define _GNU_SOURCE
#include "check.h"
#include "sock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* A plain receiving socket on 127.0.0.1; *addr gets its address. */
static int receiver(ruphin_addr *addr)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    struct timeval tv = {0, 200000};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(addr, 0, sizeof *addr);
    addr->family = 4;
    memcpy(addr->ip, &a.sin_addr, 4);
    addr->port = ntohs(a.sin_port);
    return fd;
}

/* The datagrams waiting at fd, as one string of their first bytes. */
static void arrived(int fd, char *out, size_t cap)
{
    char buf[2048];
    size_t n = 0;
    while (n + 1 < cap && recv(fd, buf, sizeof buf, 0) > 0)
        out[n++] = buf[0];
    out[n] = 0;
}

static void open_sender(rp_sock *s)
{
    ruphin_addr any;
    CHECK_EQ(ruphin_addr_parse("127.0.0.1:0", 0, &any), RUPHIN_OK);
    CHECK_EQ(rp_sock_open(s, &any, 0, 1, 0), RUPHIN_OK);
}

static void test_each_datagram_reaches_its_destination(void)
{
    ruphin_addr a, b, to[5];
    const uint8_t *bufs[5] = {(const uint8_t *)"1", (const uint8_t *)"2", (const uint8_t *)"3",
                              (const uint8_t *)"4", (const uint8_t *)"5"};
    size_t lens[5] = {1, 1, 1, 1, 1};
    int fa = receiver(&a), fb = receiver(&b), error = 99;
    char got[16];
    rp_sock s;
    open_sender(&s);
    to[0] = to[1] = to[3] = a; /* runs of one destination share a sockaddr */
    to[2] = to[4] = b;
    CHECK_EQ(rp_sock_send_many(&s, to, bufs, lens, 5, true, &error), 5);
    CHECK_EQ(error, RUPHIN_OK);
    arrived(fa, got, sizeof got);
    CHECK(strcmp(got, "124") == 0);
    arrived(fb, got, sizeof got);
    CHECK(strcmp(got, "35") == 0);
    rp_sock_close(&s);
    close(fa);
    close(fb);
}

/* Datagrams as they arrive at fd: their lengths and first bytes. */
static size_t arrived_sizes(int fd, size_t *sizes, char *firsts, size_t cap)
{
    static char buf[70000];
    size_t n = 0;
    ssize_t got;
    while (n < cap && (got = recv(fd, buf, sizeof buf, 0)) > 0) {
        sizes[n] = (size_t)got;
        firsts[n++] = buf[0];
    }
    return n;
}

/* 20 datagrams of 300 bytes and a last one of 100 to one address: with GSO
 * one message, which must still arrive as 21 datagrams of their own. */
static void send_run(size_t gso_limit, size_t size)
{
    static uint8_t payloads[21][1500];
    const uint8_t *bufs[21];
    size_t lens[21], sizes[32], i, n;
    ruphin_addr a, to[21];
    char firsts[32];
    int fa = receiver(&a), error = 99;
    rp_sock s;
    open_sender(&s);
    s.gso_limit = gso_limit;
    for (i = 0; i < 21; i++) {
        memset(payloads[i], 'a' + (int)i, size);
        bufs[i] = payloads[i];
        lens[i] = i < 20 ? size : size / 3;
        to[i] = a;
    }
    CHECK_EQ(rp_sock_send_many(&s, to, bufs, lens, 21, true, &error), 21);
    CHECK_EQ(error, RUPHIN_OK);
    n = arrived_sizes(fa, sizes, firsts, 32);
    CHECK_EQ(n, 21);
    for (i = 0; i < n && i < 21; i++)
        CHECK(sizes[i] == lens[i] && firsts[i] == 'a' + (int)i);
    rp_sock_close(&s);
    close(fa);
}

static void test_a_run_with_gso(void) { send_run(RP_GSO_MAX, 300); }
static void test_a_run_without_gso(void) { send_run(0, 300); }

/* With loopback's MTU at 1300, segments of 1400 bytes are refused: they go
 * again without GSO (fragmented by IP); segments of 1000 fit. */
static void test_gso_falls_back_on_a_small_mtu(void)
{
    send_run(RP_GSO_MAX, 1400);
    send_run(RP_GSO_MAX, 1000);
}

/* A socket that cannot segment (here: UDP checksums turned off, which
 * segmentation needs; an old kernel or IPsec refuse it likewise): the
 * kernel refuses the segmented message, the datagrams go again one a
 * message and arrive, and GSO stays off for this socket. */
static void test_gso_turns_off_when_refused(void)
{
    static uint8_t payloads[8][300];
    const uint8_t *bufs[8];
    size_t lens[8], sizes[16];
    ruphin_addr a, to[8];
    char firsts[16];
    int fa = receiver(&a), error = 99, one = 1, i;
    rp_sock s;
    open_sender(&s);
    CHECK(setsockopt((int)s.fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one) == 0);
    for (i = 0; i < 8; i++) {
        memset(payloads[i], 'a' + i, sizeof payloads[i]);
        bufs[i] = payloads[i];
        lens[i] = sizeof payloads[i];
        to[i] = a;
    }
    CHECK_EQ(s.gso_limit, RP_GSO_MAX);
    CHECK_EQ(rp_sock_send_many(&s, to, bufs, lens, 8, true, &error), 8);
    CHECK_EQ(error, RUPHIN_OK);
    CHECK_EQ(s.gso_limit, 0);
    CHECK_EQ(arrived_sizes(fa, sizes, firsts, 16), 8);
    CHECK(sizes[7] == 300 && firsts[7] == 'h');
    rp_sock_close(&s);
    close(fa);
}

/* The kernel refuses the second (too large for IPv4): the first went, the
 * third was not tried. */
static void test_the_first_failure_stops_send_many(void)
{
    static uint8_t big[70000];
    ruphin_addr a, to[3], v6;
    const uint8_t *bufs[3] = {(const uint8_t *)"1", big, (const uint8_t *)"3"};
    size_t lens[3] = {1, sizeof big, 1};
    int fa = receiver(&a), error = 0;
    char got[16];
    rp_sock s;
    open_sender(&s);
    to[0] = to[1] = to[2] = a;
    big[0] = '2';
    CHECK_EQ(rp_sock_send_many(&s, to, bufs, lens, 3, true, &error), 1);
    CHECK_EQ(error, RUPHIN_ERR_TOO_LARGE);
    arrived(fa, got, sizeof got);
    CHECK(strcmp(got, "1") == 0);
    /* An address this IPv4 socket cannot reach stops it the same way. */
    CHECK_EQ(ruphin_addr_parse("[::1]:9", 0, &v6), RUPHIN_OK);
    to[1] = v6;
    lens[1] = 1;
    CHECK_EQ(rp_sock_send_many(&s, to, bufs, lens, 3, true, &error), 1);
    CHECK_EQ(error, RUPHIN_ERR_ADDRESS_FAMILY);
    arrived(fa, got, sizeof got);
    CHECK(strcmp(got, "1") == 0);
    rp_sock_close(&s);
    close(fa);
}

/* Control frames: one that fails is counted and skipped, the rest go. */
static void test_send_batch_skips_a_failure(void)
{
    rp_tx_batch b;
    ruphin_addr a, v6;
    int fa = receiver(&a);
    char got[16];
    rp_sock s;
    open_sender(&s);
    CHECK_EQ(ruphin_addr_parse("[::1]:9", 0, &v6), RUPHIN_OK);
    memset(&b, 0, sizeof b);
    memcpy(b.slots[0], "1", 1);
    memcpy(b.slots[1], "2", 1);
    memcpy(b.slots[2], "3", 1);
    b.lens[0] = b.lens[1] = b.lens[2] = 1;
    b.to[0] = b.to[2] = a;
    b.to[1] = v6;
    b.count = 3;
    CHECK_EQ(rp_sock_send_batch(&s, &b), 1);
    CHECK_EQ(b.count, 0);
    arrived(fa, got, sizeof got);
    CHECK(strcmp(got, "13") == 0);
    rp_sock_close(&s);
    close(fa);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--small-mtu") == 0) {
        RUN(test_gso_falls_back_on_a_small_mtu);
        return check_report();
    }
    RUN(test_each_datagram_reaches_its_destination);
    RUN(test_a_run_with_gso);
    RUN(test_a_run_without_gso);
    RUN(test_gso_turns_off_when_refused);
    RUN(test_the_first_failure_stops_send_many);
    RUN(test_send_batch_skips_a_failure);
    return check_report();
}
