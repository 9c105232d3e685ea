/* Active mode: three nodes, each driven by a runner thread, used from other
 * threads. Built and run under ThreadSanitizer by tests/c/test_core.py. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ruphin.h"
#include "testnet.h"

#include <stdatomic.h>

enum { ECHOES = 200 };

typedef struct world {
    ruphin_node *hp, *server, *client;
    ruphin_runner *hp_run, *server_run, *client_run;
    int echoed, server_data;
} world;

static void open_world(world *w, int32_t keepalive_ms)
{
    ruphin_options *o;
    ruphin_addr a;
    char hp[RUPHIN_ADDRSTRLEN];
    memset(w, 0, sizeof *w);
    ruphin_options_new(&o);
    ruphin_options_set(o, RUPHIN_OPT_RETRANSMIT_MS, 20);
    ruphin_options_set(o, RUPHIN_OPT_KEEPALIVE_MS, keepalive_ms);
    CHECK_EQ(ruphin_holepuncher_new(&w->hp, "127.0.0.1:0", o), RUPHIN_OK);
    ruphin_local_addr(w->hp, &a);
    ruphin_addr_format(&a, hp, sizeof hp);
    CHECK_EQ(ruphin_server_new(&w->server, hp, (const uint8_t *)"run", 3, NULL, o), RUPHIN_OK);
    CHECK_EQ(ruphin_client_new(&w->client, hp, (const uint8_t *)"run", 3, NULL, o), RUPHIN_OK);
    ruphin_options_free(o);
    CHECK_EQ(ruphin_runner_start(&w->hp_run, w->hp), RUPHIN_OK);
    CHECK_EQ(ruphin_runner_start(&w->server_run, w->server), RUPHIN_OK);
}

static void close_world(world *w)
{
    ruphin_runner_free(w->client_run);
    ruphin_runner_free(w->server_run);
    ruphin_runner_free(w->hp_run);
    ruphin_close(w->client);
    ruphin_close(w->server);
    ruphin_close(w->hp);
}

/* The server's consumer: echoes every datagram until its runner stops. */
static void server_thread(void *arg)
{
    world *w = arg;
    ruphin_event ev;
    int rc;
    while ((rc = ruphin_runner_next(w->server_run, RUPHIN_WAIT_FOREVER, &ev)) == 1) {
        if (ev.type == RUPHIN_EVENT_DATA) {
            w->server_data++;
            ruphin_runner_send(w->server_run, &ev.peer, ev.data, ev.len);
        }
    }
    CHECK_EQ(rc, RUPHIN_ERR_STOPPED);
}

/* Waits for an event of a type, at most 5 s. */
static int next_of_type(ruphin_runner *r, int32_t type, ruphin_event *ev)
{
    int64_t end = ruphin_now() + 5000;
    while (ruphin_now() < end)
        if (ruphin_runner_next(r, 100, ev) == 1 && ev->type == type)
            return 1;
    return 0;
}

static void test_echo_through_runners(void)
{
    world w;
    rp_thread server;
    ruphin_event ev;
    int i;
    open_world(&w, 10000);
    CHECK(next_of_type(w.server_run, RUPHIN_EVENT_REGISTERED, &ev));
    rp_thread_start(&server, server_thread, &w);
    CHECK_EQ(ruphin_runner_start(&w.client_run, w.client), RUPHIN_OK);
    CHECK(next_of_type(w.client_run, RUPHIN_EVENT_CONNECTED, &ev));
    for (i = 0; i < ECHOES; i++) {
        uint8_t msg[4] = {(uint8_t)i, 1, 2, 3};
        CHECK_EQ(ruphin_runner_send(w.client_run, NULL, msg, sizeof msg), RUPHIN_OK);
        if (next_of_type(w.client_run, RUPHIN_EVENT_DATA, &ev) && ev.len == 4 &&
            ev.data[0] == (uint8_t)i)
            w.echoed++;
    }
    CHECK_EQ(w.echoed, ECHOES); /* lock-step on loopback: nothing is in flight to lose */
    { static uint8_t big[2000]; CHECK_EQ(ruphin_runner_send(w.client_run, NULL, big, sizeof big), RUPHIN_ERR_TOO_LARGE); }
    ruphin_runner_stop(w.server_run);
    rp_thread_join(server);
    CHECK_EQ(ruphin_runner_send(w.server_run, NULL, (const uint8_t *)"x", 1), RUPHIN_ERR_STOPPED);
    close_world(&w);
}

/* While nobody takes the server's events, its runner stops reading; once
 * they are taken, every datagram that reached the node is reported. */
static void test_back_pressure_loses_nothing(void)
{
    world w;
    ruphin_event ev;
    int i, data = 0, rc;
    open_world(&w, 10000);
    CHECK(next_of_type(w.server_run, RUPHIN_EVENT_REGISTERED, &ev));
    CHECK_EQ(ruphin_runner_start(&w.client_run, w.client), RUPHIN_OK);
    CHECK(next_of_type(w.client_run, RUPHIN_EVENT_CONNECTED, &ev));
    for (i = 0; i < 600; i++) {
        while (ruphin_runner_send(w.client_run, NULL, (const uint8_t *)"burst", 5) ==
               RUPHIN_ERR_WOULD_BLOCK)
            test_sleep_ms(1);
    }
    test_sleep_ms(300); /* the queue fills up; the rest waits in the socket */
    while ((rc = ruphin_runner_next(w.server_run, 300, &ev)) == 1)
        data += ev.type == RUPHIN_EVENT_DATA;
    CHECK_EQ(rc, 0);
    ruphin_runner_stop(w.server_run);
    CHECK_EQ(ruphin_runner_next(w.server_run, 0, &ev), RUPHIN_ERR_STOPPED);
    /* The node is ours again after stop: its counters can be read. */
    CHECK_EQ(ruphin_stat(w.server, RUPHIN_STAT_EVENTS_DROPPED), 0);
    CHECK(data > 256); /* more than the queue holds: it waited, then went on */
    close_world(&w);
}

static void test_stop_is_prompt_and_idempotent(void)
{
    world w;
    int64_t start;
    open_world(&w, 10000);
    test_sleep_ms(20);
    start = ruphin_now();
    ruphin_runner_stop(w.hp_run);
    ruphin_runner_stop(w.hp_run);
    CHECK(ruphin_now() - start < 2500); /* woken at once, not by the 5 s safety poll */
    close_world(&w);
}

/* Connects a client runner to a registered server runner. */
static void connect_world(world *w)
{
    ruphin_event ev;
    CHECK(next_of_type(w->server_run, RUPHIN_EVENT_REGISTERED, &ev));
    CHECK_EQ(ruphin_runner_start(&w->client_run, w->client), RUPHIN_OK);
    CHECK(next_of_type(w->client_run, RUPHIN_EVENT_CONNECTED, &ev));
}

/* Counts one-byte DATA event i in seen[i]; returns 1 if ev was one. */
static int count_datum(const ruphin_event *ev, int *seen, int n)
{
    if (ev->type != RUPHIN_EVENT_DATA || ev->len != 1 || ev->data[0] >= n)
        return 0;
    seen[ev->data[0]]++;
    return 1;
}

/* Events queued before stop are handed out after it, then STOPPED; with
 * what the node itself still holds (it is the caller's again after stop),
 * every datagram is accounted for exactly once. */
static void test_stop_keeps_queued_events(void)
{
    enum { N = 50 };
    world w;
    ruphin_event ev;
    int i, rc, after_stop = 0, in_node = 0, seen[N] = {0};
    open_world(&w, 10000);
    connect_world(&w);
    for (i = 0; i < N; i++) {
        uint8_t b = (uint8_t)i;
        CHECK_EQ(ruphin_runner_send(w.client_run, NULL, &b, 1), RUPHIN_OK);
    }
    test_sleep_ms(300); /* nobody takes the server's events meanwhile: they queue */
    ruphin_runner_stop(w.server_run);
    while ((rc = ruphin_runner_next(w.server_run, 0, &ev)) == 1)
        after_stop += count_datum(&ev, seen, N);
    CHECK_EQ(rc, RUPHIN_ERR_STOPPED);
    CHECK(after_stop > 0); /* the test did exercise queued events */
    while (ruphin_poll(w.server, 200, &ev) == 1)
        in_node += count_datum(&ev, seen, N);
    CHECK_EQ(after_stop + in_node, N);
    for (i = 0; i < N; i++)
        CHECK_EQ(seen[i], 1);
    close_world(&w);
}

/* Sends queued just before stop still leave: the server gets them all. */
static void test_sends_queued_before_stop_go_out(void)
{
    enum { N = 40 };
    world w;
    ruphin_event ev;
    int i, got = 0, seen[N] = {0};
    open_world(&w, 10000);
    connect_world(&w);
    for (i = 0; i < N; i++) {
        uint8_t b = (uint8_t)i;
        CHECK_EQ(ruphin_runner_send(w.client_run, NULL, &b, 1), RUPHIN_OK);
    }
    ruphin_runner_stop(w.client_run);
    while (got < N && next_of_type(w.server_run, RUPHIN_EVENT_DATA, &ev))
        got += count_datum(&ev, seen, N);
    CHECK_EQ(got, N);
    for (i = 0; i < N; i++)
        CHECK_EQ(seen[i], 1);
    close_world(&w);
}

/* A node that ignores wakes cannot be driven: sends and stop would wait for
 * the safety poll, seconds later. */
static void test_runner_needs_interrupt(void)
{
    ruphin_options *o;
    ruphin_node *hp;
    ruphin_runner *r = NULL;
    ruphin_options_new(&o);
    ruphin_options_set(o, RUPHIN_OPT_ALLOW_INTERRUPT, 0);
    CHECK_EQ(ruphin_holepuncher_new(&hp, "127.0.0.1:0", o), RUPHIN_OK);
    ruphin_options_free(o);
    CHECK_EQ(ruphin_runner_start(&r, hp), RUPHIN_ERR_NOT_SUPPORTED);
    CHECK(r == NULL);
    ruphin_runner_free(r);
    ruphin_close(hp);
}

/* Every thread-safe entry point at once on the client's runner: senders, a
 * consumer, a waker and two stoppers; the node is closed as soon as stop
 * returned, while senders may still be inside ruphin_runner_send.
 * ThreadSanitizer (tests/c/test_core.py) and AddressSanitizer judge. */
enum { SENDERS = 3 };

typedef struct crowd {
    world *w;
    atomic_int waking, sent[SENDERS];
    int sender_rc[SENDERS], consumer_rc, consumed;
} crowd;

typedef struct sender_arg {
    crowd *c;
    int me;
} sender_arg;

static void sender(void *arg)
{
    sender_arg *a = arg;
    int rc;
    while ((rc = ruphin_runner_send(a->c->w->client_run, NULL, (const uint8_t *)"crowd", 5)) ==
               RUPHIN_OK ||
           rc == RUPHIN_ERR_WOULD_BLOCK)
        if (rc == RUPHIN_OK)
            atomic_fetch_add(&a->c->sent[a->me], 1);
    a->c->sender_rc[a->me] = rc;
}

static void consumer(void *arg)
{
    crowd *c = arg;
    ruphin_event ev;
    while ((c->consumer_rc = ruphin_runner_next(c->w->client_run, RUPHIN_WAIT_FOREVER, &ev)) == 1)
        c->consumed++;
}

static void waker(void *arg)
{
    crowd *c = arg;
    while (atomic_load(&c->waking))
        ruphin_wake(c->w->client);
}

static void stopper(void *arg)
{
    ruphin_runner_stop(((crowd *)arg)->w->client_run);
}

static void test_concurrent_send_next_stop_wake(void)
{
    world w;
    crowd c;
    sender_arg args[SENDERS];
    rp_thread senders[SENDERS], cons, wake, stoppers[2];
    int64_t start;
    int i;
    open_world(&w, 10000);
    connect_world(&w);
    memset(&c, 0, sizeof c);
    c.w = &w;
    atomic_store(&c.waking, 1);
    for (i = 0; i < SENDERS; i++)
        atomic_store(&c.sent[i], 0);
    start = ruphin_now();
    rp_thread_start(&cons, consumer, &c);
    rp_thread_start(&wake, waker, &c);
    for (i = 0; i < SENDERS; i++) {
        args[i] = (sender_arg){&c, i};
        rp_thread_start(&senders[i], sender, &args[i]);
    }
    for (i = 0; i < SENDERS; i++) /* every sender got going (5 s at most) */
        while (atomic_load(&c.sent[i]) == 0 && ruphin_now() < start + 5000)
            test_sleep_ms(1);
    for (i = 0; i < 2; i++)
        rp_thread_start(&stoppers[i], stopper, &c);
    for (i = 0; i < 2; i++)
        rp_thread_join(stoppers[i]);
    atomic_store(&c.waking, 0);
    rp_thread_join(wake);
    ruphin_close(w.client); /* the node is ours again: senders must not touch it */
    w.client = NULL;
    for (i = 0; i < SENDERS; i++) {
        rp_thread_join(senders[i]);
        CHECK_EQ(c.sender_rc[i], RUPHIN_ERR_STOPPED);
        CHECK(atomic_load(&c.sent[i]) > 0);
    }
    rp_thread_join(cons);
    CHECK_EQ(c.consumer_rc, RUPHIN_ERR_STOPPED);
    close_world(&w);
}

int main(void)
{
    RUN(test_echo_through_runners);
    RUN(test_back_pressure_loses_nothing);
    RUN(test_stop_is_prompt_and_idempotent);
    RUN(test_stop_keeps_queued_events);
    RUN(test_sends_queued_before_stop_go_out);
    RUN(test_runner_needs_interrupt);
    RUN(test_concurrent_send_next_stop_wake);
    return check_report();
}
