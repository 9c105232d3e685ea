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

#include "testnet.h"

#include <stdlib.h>

/* A plain receiving socket on 127.0.0.1; *addr gets its address. */
static test_socket receiver(ruphin_addr *addr)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    test_socket fd = test_udp_socket(AF_INET);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    test_set_recv_timeout(fd, 200);
    memset(addr, 0, sizeof *addr);
    addr->family = 4;
    memcpy(addr->ip, &a.sin_addr, 4);
    addr->port = ntohs(a.sin_port);
    return fd;
}

/* The datagrams waiting at fd, as one string of their first bytes. */
static void arrived(test_socket fd, char *out, size_t cap)
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
    test_socket fa = receiver(&a), fb = receiver(&b);
    int error = 99;
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
    test_close_socket(fa);
    test_close_socket(fb);
}

/* Datagrams as they arrive at fd: their lengths and first bytes. */
static size_t arrived_sizes(test_socket fd, size_t *sizes, char *firsts, size_t cap)
{
    static char buf[70000];
    size_t n = 0;
    int got;
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
    test_socket fa = receiver(&a);
    int error = 99;
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
    test_close_socket(fa);
}

static void test_a_run_with_gso(void) { send_run(RP_GSO_MAX, 300); }
static void test_a_run_without_gso(void) { send_run(0, 300); }

#if RP_LINUX_EXTRAS /* segmentation offload and the MTU namespace are Linux's */
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
    test_socket fa = receiver(&a);
    int error = 99, one = 1, i;
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
    test_close_socket(fa);
}
#endif

/* The kernel refuses the second (too large for IPv4): the first went, the
 * third was not tried. */
static void test_the_first_failure_stops_send_many(void)
{
    static uint8_t big[70000];
    ruphin_addr a, to[3], v6;
    const uint8_t *bufs[3] = {(const uint8_t *)"1", big, (const uint8_t *)"3"};
    size_t lens[3] = {1, sizeof big, 1};
    test_socket fa = receiver(&a);
    int error = 0;
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
    test_close_socket(fa);
}

/* Control frames: one that fails is counted and skipped, the rest go. */
static void test_send_batch_skips_a_failure(void)
{
    rp_tx_batch b;
    ruphin_addr a, v6;
    test_socket fa = receiver(&a);
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
    test_close_socket(fa);
}

/* A socket of this test on addr ("127.0.0.1:0", "[::]:0"). */
static void open_on(rp_sock *s, const char *addr)
{
    ruphin_addr a;
    CHECK_EQ(ruphin_addr_parse(addr, 0, &a), RUPHIN_OK);
    CHECK_EQ(rp_sock_open(s, &a, 0, 1, 0), RUPHIN_OK);
}

/* Sends len bytes of text from a plain IPv4 socket to 127.0.0.1:port. */
static void send_from_ipv4(test_socket from, uint16_t port, const char *text, size_t len)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(sendto(from, text, (int)len, 0, (struct sockaddr *)&sin, sizeof sin) == (int)len);
}

/* Reads until want datagrams are in b (each refill waits up to a second). */
static unsigned receive(rp_sock *s, rp_rx_batch *b, unsigned want, size_t *lens, bool *cut)
{
    unsigned got = 0, i;
    while (got < want) {
        int n = rp_sock_recv_wait(s, b, 1000);
        if (n <= 0)
            break;
        for (i = 0; i < (unsigned)n && got < want; i++, got++) {
            lens[got] = b->lens[i];
            cut[got] = b->truncated[i];
        }
    }
    return got;
}

/* A send to a closed port brings back an ICMP port unreachable. Windows
 * reports it on the socket (WSAECONNRESET on the next receive, and the
 * socket polls readable for it) unless asked not to (sock.c,
 * ignore_icmp_errors): a peer that punched a closed address would see its
 * waits end for nothing. Nothing to read means nothing to wait for, and
 * the next datagram is read as usual. */
static void test_a_closed_port_neither_wakes_nor_breaks_receiving(void)
{
    ruphin_addr closed;
    rp_sock s;
    rp_rx_batch b;
    test_socket peer = receiver(&closed), other = test_udp_socket(AF_INET);
    size_t lens[1];
    bool cut[1];
    int i;
    test_close_socket(peer); /* closed.port is closed now */
    open_sender(&s);
    CHECK_EQ(rp_rx_batch_init(&b, 8, 1500), RUPHIN_OK);
    for (i = 0; i < 3; i++)
        CHECK_EQ(rp_sock_send(&s, &closed, (const uint8_t *)"x", 1), RUPHIN_OK);
    test_sleep_ms(100); /* the reports are in */
    CHECK_EQ(rp_sock_wait(&s, 0), 0);
    CHECK_EQ(rp_sock_recv_batch(&s, &b), 0);
    send_from_ipv4(other, s.local.port, "hello", 5);
    CHECK_EQ(receive(&s, &b, 1, lens, cut), 1);
    CHECK_EQ(lens[0], 5);
    CHECK_EQ(rp_sock_send(&s, &closed, (const uint8_t *)"x", 1), RUPHIN_OK);
    rp_rx_batch_free(&b);
    rp_sock_close(&s);
    test_close_socket(other);
}

/* The default listen address is [::]: its socket must take IPv4 too, which
 * Windows does only when told (IPV6_V6ONLY is on by default there). IPv4
 * senders appear as IPv4 addresses and are answered. */
static void test_an_ipv6_wildcard_socket_serves_ipv4(void)
{
    rp_sock s;
    rp_rx_batch b;
    ruphin_addr back;
    test_socket v4 = receiver(&back);
    char got[16];
    CHECK_EQ(rp_rx_batch_init(&b, 8, 1500), RUPHIN_OK);
    open_on(&s, "[::]:0");
    CHECK(s.dual_stack);
    CHECK_EQ(s.local.family, 6);
    send_from_ipv4(v4, s.local.port, "4", 1);
    CHECK_EQ(rp_sock_recv_wait(&s, &b, 1000), 1);
    CHECK_EQ(b.from[0].family, 4);
    CHECK(memcmp(b.from[0].ip, "\x7f\x00\x00\x01", 4) == 0);
    CHECK_EQ(b.from[0].port, back.port);
    CHECK_EQ(rp_sock_send(&s, &b.from[0], (const uint8_t *)"6", 1), RUPHIN_OK);
    arrived(v4, got, sizeof got);
    CHECK(strcmp(got, "6") == 0);
    rp_rx_batch_free(&b);
    rp_sock_close(&s);
    test_close_socket(v4);
}

/* A datagram larger than a receive slot is cut to the slot and marked (the
 * node drops and counts it); the one behind it is read whole. Windows
 * says WSAEMSGSIZE for the first instead of a flag. */
static void test_a_truncated_datagram_is_marked_and_reading_goes_on(void)
{
    static char big[300];
    rp_sock s;
    rp_rx_batch b;
    test_socket other = test_udp_socket(AF_INET);
    size_t lens[2] = {0, 0};
    bool cut[2] = {false, true};
    memset(big, 'b', sizeof big);
    CHECK_EQ(rp_rx_batch_init(&b, 8, 100), RUPHIN_OK);
    open_sender(&s);
    send_from_ipv4(other, s.local.port, big, sizeof big);
    send_from_ipv4(other, s.local.port, "small", 5);
    CHECK_EQ(receive(&s, &b, 2, lens, cut), 2);
    CHECK(cut[0]);
    CHECK_EQ(lens[0], 100);
    CHECK(!cut[1]);
    CHECK_EQ(lens[1], 5);
    rp_rx_batch_free(&b);
    rp_sock_close(&s);
    test_close_socket(other);
}

/* Every deadline is on this clock: it never goes back, and it measures a
 * sleep in milliseconds (Windows' tick is about 16 ms: the bound allows
 * it; the upper bound only catches a wrong unit). */
static void test_the_clock_is_monotonic_milliseconds(void)
{
    int64_t start = rp_clock_ms(), last = start, now;
    int i, backwards = 0;
    for (i = 0; i < 100000; i++) {
        now = rp_clock_ms();
        backwards += now < last;
        last = now;
    }
    CHECK_EQ(backwards, 0);
    start = rp_clock_ms();
    test_sleep_ms(200);
    now = rp_clock_ms();
    CHECK(now - start >= 180 && now - start < 10000);
    CHECK(ruphin_now() - now >= 0 && ruphin_now() - now < 1000);
}

/* Nonces and tokens come from here: 256 draws, all different, and every bit
 * seen both set and clear (for a broken source, e.g. one of 32 bits or a
 * constant, this fails; for a good one the odds are about 2^-249). */
static void test_os_random_numbers_vary(void)
{
    static uint64_t drawn[256];
    uint64_t any = 0, all = ~(uint64_t)0;
    int i, j, repeats = 0;
    for (i = 0; i < 256; i++) {
        drawn[i] = rp_os_random64();
        for (j = 0; j < i; j++)
            repeats += drawn[j] == drawn[i];
        any |= drawn[i];
        all &= drawn[i];
    }
    CHECK_EQ(repeats, 0);
    CHECK(any == ~(uint64_t)0);
    CHECK(all == 0);
}

/* "test_sock --local-addresses": prints the LAN addresses a wildcard socket
 * of each family would announce, one a line; tests/c/test_core.py and
 * tests/windows compare them with the host's interfaces. */
static int print_local_addresses(void)
{
    static const char *wildcards[2] = {"0.0.0.0:0", "[::]:0"};
    ruphin_addr found[32];
    char text[RUPHIN_ADDRSTRLEN];
    size_t n, i;
    int w;
    for (w = 0; w < 2; w++) {
        rp_sock s;
        open_on(&s, wildcards[w]);
        n = rp_sock_local_addresses(&s, found, 32);
        for (i = 0; i < n; i++) {
            CHECK_EQ(found[i].port, s.local.port);
            found[i].port = 0;
            found[i].scope_id = 0;
            CHECK(ruphin_addr_format(&found[i], text, sizeof text) > 0);
            printf("local %s\n", text);
        }
        rp_sock_close(&s);
    }
    return check_report();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--local-addresses") == 0)
        return print_local_addresses();
#if RP_LINUX_EXTRAS
    if (argc > 1 && strcmp(argv[1], "--small-mtu") == 0) {
        RUN(test_gso_falls_back_on_a_small_mtu);
        return check_report();
    }
#endif
    RUN(test_each_datagram_reaches_its_destination);
    RUN(test_a_run_with_gso);
    RUN(test_a_run_without_gso);
#if RP_LINUX_EXTRAS
    RUN(test_gso_turns_off_when_refused);
#endif
    RUN(test_the_first_failure_stops_send_many);
    RUN(test_send_batch_skips_a_failure);
    RUN(test_a_closed_port_neither_wakes_nor_breaks_receiving);
    RUN(test_an_ipv6_wildcard_socket_serves_ipv4);
    RUN(test_a_truncated_datagram_is_marked_and_reading_goes_on);
    RUN(test_the_clock_is_monotonic_milliseconds);
    RUN(test_os_random_numbers_vary);
    return check_report();
}
