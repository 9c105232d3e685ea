/* Active mode: three nodes, each driven by a runner thread, used from other
 * threads. Built and run under ThreadSanitizer by tests/c/test_core.py. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ruphin.h"

#include <pthread.h>
#include <time.h>

enum { ECHOES = 200 };

typedef struct world {
    ruphin_node *hp, *server, *client;
    ruphin_runner *hp_run, *server_run, *client_run;
    int echoed, server_data;
} world;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

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
static void *server_thread(void *arg)
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
    return NULL;
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
    pthread_t server;
    ruphin_event ev;
    int i;
    open_world(&w, 10000);
    CHECK(next_of_type(w.server_run, RUPHIN_EVENT_REGISTERED, &ev));
    pthread_create(&server, NULL, server_thread, &w);
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
    pthread_join(server, NULL);
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
            sleep_ms(1);
    }
    sleep_ms(300); /* the queue fills up; the rest waits in the socket */
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
    sleep_ms(20);
    start = ruphin_now();
    ruphin_runner_stop(w.hp_run);
    ruphin_runner_stop(w.hp_run);
    CHECK(ruphin_now() - start < 2500); /* woken at once, not by the 5 s safety poll */
    close_world(&w);
}

int main(void)
{
    RUN(test_echo_through_runners);
    RUN(test_back_pressure_loses_nothing);
    RUN(test_stop_is_prompt_and_idempotent);
    return check_report();
}
