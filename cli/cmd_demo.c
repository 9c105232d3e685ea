/* ruphin demo: a holepuncher, a server and a client on loopback, driven
 * from one thread, showing each step of the handshake and a round trip. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char help[] =
    "usage: ruphin demo\n"
    "\n"
    "Runs a holepuncher, a server and a client on loopback in one thread,\n"
    "shows each step of the handshake with its time, and one round trip.\n";

enum { DEMO_TIMEOUT_MS = 5000 };

typedef struct demo {
    ruphin_node *nodes[3]; /* holepuncher, server, client */
    double start, sent_at; /* ms, finer than ruphin_now() */
    bool client_started, done;
    int32_t failure; /* the first error a node reported, or 0 */
} demo;

static const char *const names[3] = {"holepuncher", "server", "client"};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One line: time, who, what, the peer concerned and what it means. */
static void step(const demo *d, int who, const char *what, const ruphin_addr *peer,
                 const char *note)
{
    printf("%8.3f ms  %-11s  %-18s %-21s %s\n", now_ms() - d->start, names[who], what,
           peer != NULL && peer->family != 0 ? cli_addr(peer) : "", note);
}

/* What happened on the wire behind an event (docs/PROTOCOL.md). */
static const char *explain(int who, int32_t type)
{
    switch (type) {
    case RUPHIN_EVENT_SESSION_REGISTERED: return "Register in, RegisterAck out";
    case RUPHIN_EVENT_SESSION_JOINED: return "Join in, PeerInfo out to both sides";
    case RUPHIN_EVENT_REGISTERED: return "RegisterAck in: the session is live";
    case RUPHIN_EVENT_PEER_ANNOUNCED: return "PeerInfo in, HelloReq out: punching";
    case RUPHIN_EVENT_CONNECTED:
        return who == 2 ? "hello in from the server" : "hello in from the client";
    case RUPHIN_EVENT_DATA: return who == 1 ? "in, echoed back" : "in: the echo";
    default: return "";
    }
}

static void on_event(demo *d, int who, const ruphin_event *ev)
{
    static const char greeting[] = "hello through the hole";
    char note[160];
    snprintf(note, sizeof note, "%s", explain(who, ev->type));
    if (ev->type == RUPHIN_EVENT_DATA)
        snprintf(note, sizeof note, "\"%.*s\" %s", (int)ev->len, (const char *)ev->data,
                 explain(who, ev->type));
    step(d, who, ruphin_event_name(ev->type), &ev->peer, note);
    if (ev->type == RUPHIN_EVENT_FAILED)
        d->failure = ev->error;
    if (who == 1 && ev->type == RUPHIN_EVENT_REGISTERED)
        d->client_started = true; /* join once the session exists */
    if (who == 1 && ev->type == RUPHIN_EVENT_DATA)
        ruphin_send(d->nodes[1], &ev->peer, ev->data, ev->len); /* echo */
    if (who == 2 && ev->type == RUPHIN_EVENT_CONNECTED) {
        d->sent_at = now_ms();
        ruphin_send(d->nodes[2], NULL, (const uint8_t *)greeting, sizeof greeting - 1);
        snprintf(note, sizeof note, "\"%s\" out", greeting);
        step(d, 2, "sends", NULL, note);
    }
    if (who == 2 && ev->type == RUPHIN_EVENT_DATA) {
        printf("round trip: %.3f ms\n", now_ms() - d->sent_at);
        d->done = true;
    }
}

static int open_nodes(demo *d)
{
    ruphin_addr hp_addr;
    char hp[RUPHIN_ADDRSTRLEN];
    int32_t rc = ruphin_holepuncher_new(&d->nodes[0], "127.0.0.1:0", NULL);
    if (rc != RUPHIN_OK)
        return cli_fail("holepuncher", rc);
    ruphin_local_addr(d->nodes[0], &hp_addr);
    ruphin_addr_format(&hp_addr, hp, sizeof hp);
    rc = ruphin_server_new(&d->nodes[1], hp, (const uint8_t *)"demo", 4, "127.0.0.1:0", NULL);
    if (rc == RUPHIN_OK)
        rc = ruphin_client_new(&d->nodes[2], hp, (const uint8_t *)"demo", 4, "127.0.0.1:0", NULL);
    if (rc != RUPHIN_OK)
        return cli_fail("peer", rc);
    printf("holepuncher on %s; server and client join session \"demo\"\n", hp);
    return EXIT_OK;
}

int cmd_demo(int argc, char **argv)
{
    static demo d;
    int rc, i;
    if (argc > 1) {
        bool asked = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        fputs(help, asked ? stdout : stderr);
        return asked ? EXIT_OK : EXIT_USAGE;
    }
    if ((rc = open_nodes(&d)) != EXIT_OK)
        return rc;
    d.start = now_ms();
    while (!d.done && d.failure == 0 && now_ms() - d.start < DEMO_TIMEOUT_MS) {
        for (i = 0; i < 3; i++) {
            ruphin_event ev;
            if (i == 2 && !d.client_started)
                continue;
            while ((rc = ruphin_poll(d.nodes[i], 0, &ev)) == 1)
                on_event(&d, i, &ev);
            if (rc < 0 && d.failure == 0)
                d.failure = rc;
        }
        cli_wait(d.nodes, d.client_started ? 3 : 2, false, 10);
    }
    for (i = 2; i >= 0; i--)
        ruphin_close(d.nodes[i]);
    if (d.failure != 0)
        return cli_fail("demo", d.failure);
    if (!d.done) {
        fprintf(stderr, "ruphin: demo: no round trip within %d ms\n", DEMO_TIMEOUT_MS);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
