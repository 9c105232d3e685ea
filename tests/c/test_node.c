/* The public API over real loopback sockets: the three roles in one thread,
 * IPv4 and IPv6, bad datagrams, oversized sends, waking a poll from another
 * thread, poll's time bound, and the batch calls (send_batch, poll_batch). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ruphin.h"

#include "testnet.h"

typedef struct trio {
    ruphin_node *hp, *server, *client;
    char hp_text[RUPHIN_ADDRSTRLEN];
} trio;

static ruphin_options *fast_options(void)
{
    ruphin_options *o;
    ruphin_options_new(&o);
    ruphin_options_set(o, RUPHIN_OPT_RETRANSMIT_MS, 20);
    ruphin_options_set(o, RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS, 3000);
    return o;
}

/* Polls every node without waiting until `want` is reported by `who`, for
 * at most 5 s. Server DATA is echoed back. Returns the event. */
static ruphin_event run_until(trio *t, ruphin_node *who, int32_t want)
{
    ruphin_node *nodes[3] = {t->hp, t->server, t->client};
    int64_t end = ruphin_now() + 5000;
    ruphin_event ev, none;
    memset(&none, 0, sizeof none);
    while (ruphin_now() < end) {
        int i;
        for (i = 0; i < 3; i++) {
            if (nodes[i] == NULL)
                continue;
            while (ruphin_poll(nodes[i], 0, &ev) == 1) {
                if (nodes[i] == t->server && ev.type == RUPHIN_EVENT_DATA)
                    CHECK_EQ(ruphin_send(t->server, &ev.peer, ev.data, ev.len), RUPHIN_OK);
                if (nodes[i] == who && ev.type == want)
                    return ev;
            }
        }
        test_sleep_ms(1);
    }
    return none;
}

static void open_trio(trio *t, const char *hp_bind)
{
    ruphin_options *o = fast_options();
    ruphin_addr a;
    memset(t, 0, sizeof *t);
    CHECK_EQ(ruphin_holepuncher_new(&t->hp, hp_bind, o), RUPHIN_OK);
    ruphin_local_addr(t->hp, &a);
    CHECK(ruphin_addr_format(&a, t->hp_text, sizeof t->hp_text) > 0);
    CHECK_EQ(ruphin_server_new(&t->server, t->hp_text, (const uint8_t *)"game", 4, NULL, o), RUPHIN_OK);
    /* Clients join once the session exists. */
    CHECK_EQ(run_until(t, t->server, RUPHIN_EVENT_REGISTERED).type, RUPHIN_EVENT_REGISTERED);
    CHECK_EQ(ruphin_client_new(&t->client, t->hp_text, (const uint8_t *)"game", 4, NULL, o), RUPHIN_OK);
    ruphin_options_free(o);
}

static void close_trio(trio *t)
{
    ruphin_close(t->client);
    ruphin_close(t->server);
    ruphin_close(t->hp);
}

static void round_trip(const char *hp_bind)
{
    trio t;
    ruphin_event ev;
    uint8_t big[1025] = {0};
    open_trio(&t, hp_bind);
    ev = run_until(&t, t.client, RUPHIN_EVENT_CONNECTED);
    CHECK_EQ(ev.type, RUPHIN_EVENT_CONNECTED);
    CHECK_EQ(ruphin_state(t.client), RUPHIN_STATE_CONNECTED);
    CHECK_EQ(ruphin_send(t.client, NULL, (const uint8_t *)"ping", 4), RUPHIN_OK);
    ev = run_until(&t, t.client, RUPHIN_EVENT_DATA);
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 4 && memcmp(ev.data, "ping", 4) == 0);
    CHECK_EQ(ruphin_send(t.client, NULL, big, sizeof big), RUPHIN_ERR_TOO_LARGE);
    CHECK_EQ(ruphin_send(t.client, NULL, big, 1024), RUPHIN_OK);
    ev = run_until(&t, t.client, RUPHIN_EVENT_DATA);
    CHECK_EQ(ev.len, 1024);
    CHECK_EQ(ruphin_send(t.hp, NULL, big, 1), RUPHIN_ERR_NOT_SUPPORTED);
    CHECK_EQ(ruphin_stat(t.hp, RUPHIN_STAT_SESSIONS), 1);
    CHECK_EQ(ruphin_stat(t.server, RUPHIN_STAT_PEERS), 1);
    close_trio(&t);
}

static void test_round_trip_ipv4(void) { round_trip("127.0.0.1:0"); }
static void test_round_trip_ipv6(void) { round_trip("[::1]:0"); }

static void test_early_data(void)
{
    trio t;
    ruphin_event ev;
    open_trio(&t, "127.0.0.1:0");
    CHECK_EQ(ruphin_send(t.client, NULL, (const uint8_t *)"x", 1), RUPHIN_ERR_NOT_CONNECTED);
    ev = run_until(&t, t.client, RUPHIN_EVENT_PEER_ANNOUNCED);
    CHECK_EQ(ev.type, RUPHIN_EVENT_PEER_ANNOUNCED);
    /* Events are reported in order, but the node may be further along. */
    CHECK(ruphin_state(t.client) == RUPHIN_STATE_PUNCHING ||
          ruphin_state(t.client) == RUPHIN_STATE_CONNECTED);
    /* Sent as soon as the server is known: it follows our first hello. */
    CHECK_EQ(ruphin_send(t.client, NULL, (const uint8_t *)"early", 5), RUPHIN_OK);
    ev = run_until(&t, t.client, RUPHIN_EVENT_DATA);
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 5 && memcmp(ev.data, "early", 5) == 0);
    close_trio(&t);
}

static void test_session_not_found(void)
{
    trio t;
    ruphin_event ev;
    ruphin_options *o = fast_options();
    open_trio(&t, "127.0.0.1:0");
    ruphin_close(t.client);
    CHECK_EQ(ruphin_client_new(&t.client, t.hp_text, (const uint8_t *)"nope", 4, NULL, o), RUPHIN_OK);
    ev = run_until(&t, t.client, RUPHIN_EVENT_FAILED);
    CHECK_EQ(ev.error, RUPHIN_ERR_SESSION_NOT_FOUND);
    CHECK_EQ(ruphin_poll(t.client, 0, &ev), RUPHIN_ERR_FAILED);
    CHECK_EQ(ruphin_send(t.client, NULL, (const uint8_t *)"x", 1), RUPHIN_ERR_FAILED);
    ruphin_options_free(o);
    close_trio(&t);
}

/* Raw datagrams from a plain socket to a node. */
static void send_raw(const ruphin_node *to, const void *buf, size_t len)
{
    ruphin_addr a;
    struct sockaddr_in sin;
    test_socket fd = test_udp_socket(AF_INET);
    ruphin_local_addr(to, &a);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(a.port);
    sin.sin_addr.s_addr = htonl(0x7f000001);
    CHECK(sendto(fd, buf, (int)len, 0, (struct sockaddr *)&sin, sizeof sin) == (int)len);
    test_close_socket(fd);
}

static void test_bad_datagrams_are_counted_and_harmless(void)
{
    trio t;
    ruphin_event ev;
    static uint8_t huge[3000];
    open_trio(&t, "127.0.0.1:0");
    run_until(&t, t.client, RUPHIN_EVENT_CONNECTED);
    send_raw(t.hp, "\x00\x05\x00\x08", 4);                 /* wrong length */
    send_raw(t.hp, "\x00\x04\x00\x63", 4);                 /* unknown type */
    send_raw(t.hp, "\x00", 1);                             /* truncated */
    huge[0] = 3000 >> 8, huge[1] = 3000 & 0xff, huge[3] = 5;
    send_raw(t.client, huge, sizeof huge);                 /* Data beyond max payload */
    send_raw(t.client, "\x00\x05\x00\x05x", 5);            /* Data from a stranger */
    send_raw(t.server, "\x00\x05\x00\x05x", 5);            /* Data from a stranger */
    test_sleep_ms(20);
    while (ruphin_poll(t.hp, 0, &ev) == 1 || ruphin_poll(t.client, 0, &ev) == 1 ||
           ruphin_poll(t.server, 0, &ev) == 1)
        CHECK(ev.type != RUPHIN_EVENT_DATA);
    CHECK_EQ(ruphin_stat(t.hp, RUPHIN_STAT_RX_MALFORMED), 3);
    CHECK_EQ(ruphin_stat(t.client, RUPHIN_STAT_RX_MALFORMED), 1);
    CHECK_EQ(ruphin_stat(t.client, RUPHIN_STAT_RX_UNEXPECTED), 1);
    CHECK(ruphin_stat(t.server, RUPHIN_STAT_RX_UNEXPECTED) >= 1);
    /* Everything still works. */
    CHECK_EQ(ruphin_send(t.client, NULL, (const uint8_t *)"ok", 2), RUPHIN_OK);
    ev = run_until(&t, t.client, RUPHIN_EVENT_DATA);
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 2);
    close_trio(&t);
}


/* On Linux a poll waits in a blocking receive (sock.c); an event loop may
 * make the descriptor nonblocking for its own purposes: the wait then falls
 * back to waiting on the descriptor, still for as long as asked and without
 * spinning, and datagrams still arrive. */
static void test_poll_waits_on_a_nonblocking_fd(void)
{
    ruphin_node *hp;
    ruphin_event ev;
    int64_t start;
    double cpu;
    test_socket fd;
    int i;
    CHECK_EQ(ruphin_holepuncher_new(&hp, "127.0.0.1:0", NULL), RUPHIN_OK);
    fd = (test_socket)ruphin_fd(hp);
    CHECK(test_set_nonblocking(fd) == 0);
    for (i = 0; i < 2; i++) { /* the first wait finds out, the second knows */
        start = ruphin_now();
        cpu = test_cpu_seconds();
        CHECK_EQ(ruphin_poll(hp, 200, &ev), 0);
        CHECK(ruphin_now() - start >= 200);
        CHECK(test_cpu_seconds() - cpu < 0.1); /* a spinning wait would take all 200 ms */
    }
    send_raw(hp, "\x00\x04\x00\x08", 4); /* HelloReq */
    CHECK_EQ(ruphin_poll(hp, 50, &ev), 0);
    CHECK_EQ(ruphin_stat(hp, RUPHIN_STAT_RX_DATAGRAMS), 1);
    CHECK_EQ(ruphin_stat(hp, RUPHIN_STAT_TX_DATAGRAMS), 1);
    ruphin_close(hp);
}

/* 64 requests (a receive batch) from one socket, waiting at the holepuncher. */
static void send_requests(test_socket fd, const ruphin_node *to, uint8_t type)
{
    ruphin_addr a;
    struct sockaddr_in sin;
    uint8_t frame[8] = {0, 8, 0, type, 'i', 'd', 0, 0};
    int i;
    ruphin_local_addr(to, &a);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(a.port);
    sin.sin_addr.s_addr = htonl(0x7f000001);
    for (i = 0; i < 64; i++) {
        frame[6] = (uint8_t)i;
        CHECK(sendto(fd, (const char *)frame, sizeof frame, 0, (struct sockaddr *)&sin, sizeof sin) == 8);
    }
}

/* The events of a whole receive batch (one per Register of a new id, one
 * per Join that finds its session) fit in the queue: every request of the
 * batch is answered before its first event is handed out, so the answers
 * leave together instead of the batch being cut where the queue filled. */
static void test_holepuncher_answers_a_whole_batch_first(void)
{
    ruphin_node *hp;
    ruphin_event ev;
    ruphin_options *o;
    test_socket fd = test_udp_socket(AF_INET);
    int i;
    ruphin_options_new(&o);
    ruphin_options_set(o, RUPHIN_OPT_RATE_LIMIT, 0);
    ruphin_options_set(o, RUPHIN_OPT_NO_AMPLIFICATION, 0);
    CHECK_EQ(ruphin_holepuncher_new(&hp, "127.0.0.1:0", o), RUPHIN_OK);
    ruphin_options_free(o);
    send_requests(fd, hp, 2); /* Register */
    CHECK_EQ(ruphin_poll(hp, 1000, &ev), 1);
    CHECK_EQ(ev.type, RUPHIN_EVENT_SESSION_REGISTERED);
    CHECK_EQ(ruphin_stat(hp, RUPHIN_STAT_TX_DATAGRAMS), 64);
    for (i = 1; i < 64; i++)
        CHECK_EQ(ruphin_poll(hp, 0, &ev), 1);
    send_requests(fd, hp, 3); /* Join: PeerInfo to the joiner and to the owner */
    CHECK_EQ(ruphin_poll(hp, 1000, &ev), 1);
    CHECK_EQ(ev.type, RUPHIN_EVENT_SESSION_JOINED);
    CHECK_EQ(ruphin_stat(hp, RUPHIN_STAT_TX_DATAGRAMS), 64 + 128);
    CHECK_EQ(ruphin_stat(hp, RUPHIN_STAT_TX_FAILED), 0);
    test_close_socket(fd);
    ruphin_close(hp);
}

static void wake_later(void *node)
{
    test_sleep_ms(100);
    CHECK_EQ(ruphin_wake(node), RUPHIN_OK);
}

static void test_wake_from_another_thread(void)
{
    ruphin_node *hp;
    ruphin_event ev;
    rp_thread thread;
    int64_t start;
    CHECK_EQ(ruphin_holepuncher_new(&hp, "127.0.0.1:0", NULL), RUPHIN_OK);
    rp_thread_start(&thread, wake_later, hp);
    start = ruphin_now();
    CHECK_EQ(ruphin_poll(hp, RUPHIN_WAIT_FOREVER, &ev), 1);
    CHECK_EQ(ev.type, RUPHIN_EVENT_WAKE);
    CHECK(ruphin_now() - start >= 90);
    rp_thread_join(thread);
    ruphin_close(hp);
}

static void test_poll_waits_as_asked(void)
{
    ruphin_node *hp;
    ruphin_event ev;
    int64_t start;
    CHECK_EQ(ruphin_holepuncher_new(&hp, "127.0.0.1:0", NULL), RUPHIN_OK);
    start = ruphin_now();
    CHECK_EQ(ruphin_poll(hp, 0, &ev), 0);
    CHECK_EQ(ruphin_poll(hp, 60, &ev), 0);
    CHECK(ruphin_now() - start >= 60);
    CHECK_EQ(ruphin_deadline(hp), RUPHIN_NO_DEADLINE);
    CHECK_EQ(ruphin_timeout_ms(hp), -1);
    CHECK(ruphin_fd(hp) >= 0);
    CHECK_EQ(ruphin_poll(hp, -2, &ev), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_poll(NULL, 0, &ev), RUPHIN_ERR_INVALID);
    ruphin_close(hp);
}

/* Connects a trio's client, then lets only the server's events through. */
static void connect_trio(trio *t)
{
    ruphin_event ev = run_until(t, t->client, RUPHIN_EVENT_CONNECTED);
    CHECK_EQ(ev.type, RUPHIN_EVENT_CONNECTED);
}

/* Takes the DATA the server gets with ruphin_poll_batch until `want` came
 * or 2 s passed, checking each is the next of `expected` (the payloads
 * back to back, lens[i] each). Returns how many calls it took. */
static int receive_batch(ruphin_node *server, const uint8_t *expected, const size_t *lens,
                         size_t want)
{
    ruphin_event evs[RUPHIN_POLL_BATCH_MAX];
    size_t got = 0, off = 0;
    int calls = 0;
    int64_t end = ruphin_now() + 2000;
    while (got < want && ruphin_now() < end) {
        int32_t i, n = ruphin_poll_batch(server, 10, evs, RUPHIN_POLL_BATCH_MAX);
        CHECK(n >= 0);
        calls += n > 0;
        for (i = 0; i < n; i++) {
            if (evs[i].type != RUPHIN_EVENT_DATA)
                continue;
            CHECK(got < want && evs[i].len == lens[got] &&
                  (lens[got] == 0 || memcmp(evs[i].data, expected + off, lens[got]) == 0));
            off += lens[got++];
        }
    }
    CHECK_EQ(got, want);
    return calls;
}

/* 150 datagrams of 0..149 bytes (more than one send queue, more than one
 * receive batch) arrive whole and in order, with few calls each way. */
static void test_batches_round_trip(void)
{
    static uint8_t data[150 * 149];
    size_t lens[150], i, total = 0, sent = 99;
    int64_t tx_before;
    trio t;
    for (i = 0; i < 150; i++) {
        size_t j;
        lens[i] = i;
        for (j = 0; j < i; j++)
            data[total++] = (uint8_t)(i + j);
    }
    open_trio(&t, "127.0.0.1:0");
    connect_trio(&t);
    tx_before = ruphin_stat(t.client, RUPHIN_STAT_TX_DATAGRAMS);
    CHECK_EQ(ruphin_send_batch(t.client, NULL, data, lens, 150, &sent), RUPHIN_OK);
    CHECK_EQ(sent, 150);
    CHECK_EQ(ruphin_stat(t.client, RUPHIN_STAT_TX_DATAGRAMS) - tx_before, 150);
    /* Loopback delivered them all during the send: 64 at most per call. */
    CHECK(receive_batch(t.server, data, lens, 150) <= 4);
    close_trio(&t);
}

/* The first datagram that fails stops the batch: what went before it went
 * out, and *sent says how many; a datagram's error is ruphin_send's. */
static void test_send_batch_errors(void)
{
    static uint8_t data[3000];
    size_t lens[4] = {3, 4, 1025, 5}, sent = 99;
    ruphin_addr nobody;
    trio t;
    memcpy(data, "abcdefg", 7);
    open_trio(&t, "127.0.0.1:0");
    CHECK_EQ(ruphin_send_batch(t.client, NULL, data, lens, 2, &sent), RUPHIN_ERR_NOT_CONNECTED);
    CHECK_EQ(sent, 0);
    connect_trio(&t);
    CHECK_EQ(ruphin_send_batch(t.client, NULL, data, lens, 4, &sent), RUPHIN_ERR_TOO_LARGE);
    CHECK_EQ(sent, 2);
    receive_batch(t.server, data, lens, 2);
    CHECK_EQ(ruphin_send_batch(t.client, NULL, data, lens + 2, 2, &sent), RUPHIN_ERR_TOO_LARGE);
    CHECK_EQ(sent, 0);
    CHECK_EQ(ruphin_send_batch(t.client, NULL, data, lens, 0, &sent), RUPHIN_OK);
    CHECK_EQ(sent, 0);
    CHECK_EQ(ruphin_send_batch(t.client, NULL, NULL, lens, 1, &sent), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_send_batch(t.client, NULL, data, NULL, 1, &sent), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_send_batch(NULL, NULL, data, lens, 1, &sent), RUPHIN_ERR_INVALID);
    CHECK_EQ(sent, 0);
    CHECK_EQ(ruphin_send_batch(t.hp, NULL, data, lens, 1, NULL), RUPHIN_ERR_NOT_SUPPORTED);
    CHECK_EQ(ruphin_addr_parse("127.0.0.1:9", 0, &nobody), RUPHIN_OK);
    CHECK_EQ(ruphin_send_batch(t.server, &nobody, data, lens, 1, NULL), RUPHIN_ERR_UNKNOWN_PEER);
    CHECK_EQ(ruphin_send_batch(t.client, &nobody, data, lens, 1, NULL), RUPHIN_ERR_UNKNOWN_PEER);
    close_trio(&t);
}

/* poll_batch is poll for many: the same events, in the same order, its
 * bounds checked; it waits as asked and no longer. */
static void test_poll_batch_contract(void)
{
    ruphin_event evs[2];
    ruphin_node *hp;
    int64_t start;
    CHECK_EQ(ruphin_holepuncher_new(&hp, "127.0.0.1:0", NULL), RUPHIN_OK);
    CHECK_EQ(ruphin_poll_batch(hp, 0, evs, 0), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_poll_batch(hp, 0, NULL, 1), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_poll_batch(hp, -2, evs, 1), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_poll_batch(NULL, 0, evs, 1), RUPHIN_ERR_INVALID);
    start = ruphin_now();
    CHECK_EQ(ruphin_poll_batch(hp, 50, evs, 2), 0);
    CHECK(ruphin_now() - start >= 50);
    CHECK_EQ(ruphin_wake(hp), RUPHIN_OK);
    CHECK_EQ(ruphin_wake(hp), RUPHIN_OK);
    CHECK_EQ(ruphin_poll_batch(hp, 1000, evs, 2), 2);
    CHECK(evs[0].type == RUPHIN_EVENT_WAKE && evs[1].type == RUPHIN_EVENT_WAKE);
    ruphin_close(hp);
}

static void test_api_misuse(void)
{
    ruphin_node *n = NULL;
    ruphin_options *o;
    ruphin_addr a;
    char buf[8];
    CHECK_EQ(ruphin_server_new(&n, "127.0.0.1:1", (const uint8_t *)"x", 21, NULL, NULL), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_client_new(&n, "no such host name.invalid", (const uint8_t *)"x", 1, NULL, NULL), RUPHIN_ERR_ADDRESS);
    CHECK_EQ(ruphin_client_new(&n, NULL, NULL, 0, NULL, NULL), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_holepuncher_new(&n, "127.0.0.1:99999", NULL), RUPHIN_ERR_ADDRESS);
    CHECK(n == NULL);
    CHECK_EQ(ruphin_options_new(&o), RUPHIN_OK);
    CHECK_EQ(ruphin_options_set(o, RUPHIN_OPT_MAX_PAYLOAD, 65504), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_options_set(o, 999, 1), RUPHIN_ERR_INVALID);
    CHECK_EQ(ruphin_options_set(o, RUPHIN_OPT_RETRANSMIT_MS, 5000), RUPHIN_OK);
    CHECK_EQ(ruphin_holepuncher_new(&n, "127.0.0.1:0", o), RUPHIN_ERR_INVALID); /* above its max */
    ruphin_options_free(o);
    CHECK_EQ(ruphin_addr_parse("[::1]:80", 0, &a), RUPHIN_OK);
    CHECK_EQ(ruphin_addr_format(&a, buf, sizeof buf), RUPHIN_ERR_BUFFER);
    CHECK_EQ(ruphin_addr_parse("1.2.3.4", 0, &a), RUPHIN_ERR_ADDRESS);
    CHECK_EQ(ruphin_addr_parse("1.2.3.4", 7, &a), RUPHIN_OK);
    CHECK_EQ(a.port, 7);
    CHECK(strcmp(ruphin_strerror(RUPHIN_ERR_TIMEOUT), "unknown error") != 0);
    CHECK(strcmp(ruphin_strerror(-999), "unknown error") == 0);
    CHECK(strcmp(ruphin_version(), RUPHIN_VERSION_STRING) == 0);
    ruphin_close(NULL);
}

int main(void)
{
    RUN(test_round_trip_ipv4);
    RUN(test_round_trip_ipv6);
    RUN(test_early_data);
    RUN(test_session_not_found);
    RUN(test_bad_datagrams_are_counted_and_harmless);
    RUN(test_wake_from_another_thread);
    RUN(test_poll_waits_as_asked);
    RUN(test_api_misuse);
    RUN(test_batches_round_trip);
    RUN(test_send_batch_errors);
    RUN(test_poll_batch_contract);
    RUN(test_holepuncher_answers_a_whole_batch_first);
    RUN(test_poll_waits_on_a_nonblocking_fd);
    return check_report();
}
