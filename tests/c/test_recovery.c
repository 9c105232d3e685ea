/* Path recovery (docs/RECOVERY.md): a holepuncher, a
 * server and a client state machine on a simulated network of
 * port-restricted NATs, with a fake clock. The routers can rebind (forget
 * their mappings and map from other ports), black out (drop everything for
 * a while, then come back with no mappings), and a host can change its own
 * address; the peers must find each other again by themselves. */
#include "check.h"
#include "addr.h"
#include "options.h"
#include "roles.h"

#include <stdlib.h>

enum { HP_HOST, SERVER_HOST, CLIENT_HOST, HOSTS };
enum { MAX_PACKETS = 1 << 16, PACKET_LEN = 1200, MAX_MAPS = 16, MAX_FILTERS = 512,
       LOG_EVENTS = 4096, ONE_WAY_MS = 20 };

/* A NAT with endpoint-independent mapping (it keeps the local port while it
 * can) and address- and port-dependent filtering: Linux MASQUERADE with
 * conntrack, a "port-restricted cone". */
typedef struct nat {
    bool on;
    uint8_t ip[4];    /* its public address */
    uint16_t next_port; /* 0: keep the local port; else the next one it maps to */
    struct { ruphin_addr local; uint16_t port; } map[MAX_MAPS];
    int nmap;
    struct { uint16_t port; ruphin_addr remote; } filter[MAX_FILTERS];
    int nfilter;
    int64_t down_until; /* blackout: nothing passes before then */
} nat;

typedef struct packet {
    int64_t at;
    ruphin_addr from, to;
    size_t len;
    uint8_t data[PACKET_LEN];
} packet;

typedef struct logged_event {
    int64_t at;
    ruphin_event ev;
    ruphin_addr previous; /* PATH_RESTORED: the address before, when it changed */
    char text[32];        /* DATA: the payload */
} logged_event;

typedef struct host {
    ruphin_addr local;
    nat nat;
    rp_event_queue events;
    int64_t stats[RUPHIN_STAT_COUNT];
    logged_event log[LOG_EVENTS];
    int nlog;
    ruphin_addr locals[RP_MAX_LOCALS]; /* what local_addresses() answers */
    size_t nlocals;
    int locals_asked;
} host;

static host hosts[HOSTS];
static packet *queue;
static int nqueue;
static int64_t now_ms;
static double loss;         /* per datagram */
static uint64_t rng = 88172645463325252ull;
static int hp_no_amplification = 2; /* the holepuncher's mode */
static int64_t hp_relay_rate;       /* the holepuncher relays (bytes/s per pair) */
static bool direct_blocked;         /* nothing passes between the peers' routers */
static int drop_capabilities;       /* Capabilities to the client to lose */
static bool client_alive;   /* ticked and fed (false once it closed) */

static rp_holepuncher hp;
static rp_server server;
static rp_client client;
static const ruphin_addr HP_ADDR = {4, 0, 47470, 0, {203, 0, 113, 1}};
static const ruphin_addr SERVER_LOCAL = {4, 0, 4000, 0, {198, 18, 0, 2}};
static const ruphin_addr CLIENT_LOCAL = {4, 0, 5000, 0, {198, 18, 0, 3}};
static const uint8_t SERVER_PUBLIC[4] = {203, 0, 113, 11};
static const uint8_t CLIENT_PUBLIC[4] = {203, 0, 113, 12};
static const char *SESSION = "natlab";

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t random_nonce(void *ctx)
{
    uint64_t v;
    (void)ctx;
    while ((v = next_random()) == 0)
        ;
    return v;
}

/* ---- the network ---- */

static int nat_find_local(const nat *n, const ruphin_addr *local)
{
    int i;
    for (i = 0; i < n->nmap; i++)
        if (rp_addr_same(&n->map[i].local, local))
            return i;
    return -1;
}

static int nat_find_port(const nat *n, uint16_t port)
{
    int i;
    for (i = 0; i < n->nmap; i++)
        if (n->map[i].port == port)
            return i;
    return -1;
}

/* The public port of a local address, mapped on first use. */
static uint16_t nat_map(nat *n, const ruphin_addr *local)
{
    int i = nat_find_local(n, local);
    uint16_t port;
    if (i >= 0)
        return n->map[i].port;
    port = n->next_port != 0 ? n->next_port++ : local->port;
    while (nat_find_port(n, port) >= 0)
        port = (uint16_t)(port + 1);
    CHECK(n->nmap < MAX_MAPS);
    n->map[n->nmap].local = *local;
    n->map[n->nmap].port = port;
    return n->map[n->nmap++].port;
}

static void nat_open(nat *n, uint16_t port, const ruphin_addr *remote)
{
    int i;
    for (i = 0; i < n->nfilter; i++)
        if (n->filter[i].port == port && rp_addr_same(&n->filter[i].remote, remote))
            return;
    if (n->nfilter < MAX_FILTERS) {
        n->filter[n->nfilter].port = port;
        n->filter[n->nfilter++].remote = *remote;
    }
}

static bool nat_allows(const nat *n, uint16_t port, const ruphin_addr *remote)
{
    int i;
    for (i = 0; i < n->nfilter; i++)
        if (n->filter[i].port == port && rp_addr_same(&n->filter[i].remote, remote))
            return true;
    return false;
}

/* The router forgets every mapping and maps from new_port on. */
static void rebind(int h, uint16_t new_port)
{
    hosts[h].nat.nmap = hosts[h].nat.nfilter = 0;
    hosts[h].nat.next_port = new_port;
}

/* The router reboots: nothing passes for ms, and then it has no mappings
 * (it keeps the local ports again, as after a real reboot). */
static void blackout(int h, int64_t ms)
{
    hosts[h].nat.down_until = now_ms + ms;
    hosts[h].nat.nmap = hosts[h].nat.nfilter = 0;
    hosts[h].nat.next_port = 0;
}

static ruphin_addr public_of(int h)
{
    ruphin_addr a = hosts[h].local;
    if (hosts[h].nat.on) {
        memcpy(a.ip, hosts[h].nat.ip, 4);
        a.port = hosts[h].nat.map[nat_find_local(&hosts[h].nat, &hosts[h].local)].port;
    }
    return a;
}

static int route(int h, const ruphin_addr *to, const uint8_t *frame, size_t len, int ttl)
{
    host *src = &hosts[h];
    packet *p;
    ruphin_addr from = src->local;
    if (src->nat.on) {
        if (now_ms < src->nat.down_until)
            return 0;
        memcpy(from.ip, src->nat.ip, 4);
        from.port = nat_map(&src->nat, &src->local);
        nat_open(&src->nat, from.port, to);
    }
    if (ttl > 0 && ttl <= RP_LOW_TTL)
        return 0; /* opened our NAT, dies before the other's router */
    if (direct_blocked && h != HP_HOST && !rp_addr_same(to, &HP_ADDR))
        return 0;
    if (drop_capabilities > 0 && h == HP_HOST && len > 3 && frame[3] == RP_FRAME_CAPABILITIES &&
        memcmp(to->ip, CLIENT_PUBLIC, 4) == 0) {
        drop_capabilities--;
        return 0;
    }
    if (loss > 0 && (double)(next_random() % 1000000) / 1e6 < loss)
        return 0;
    CHECK(nqueue < MAX_PACKETS && len <= PACKET_LEN);
    if (nqueue >= MAX_PACKETS || len > PACKET_LEN)
        return 0;
    p = &queue[nqueue++];
    p->at = now_ms + ONE_WAY_MS;
    p->from = from;
    p->to = *to;
    p->len = len;
    memcpy(p->data, frame, len);
    return 0;
}

static int send_from(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len)
{
    return route((int)(intptr_t)ctx, to, frame, len, 0);
}

static int send_ttl_from(void *ctx, const ruphin_addr *to, const uint8_t *frame, size_t len,
                         int ttl)
{
    return route((int)(intptr_t)ctx, to, frame, len, ttl);
}

static size_t locals_of(void *ctx, ruphin_addr *out, size_t max)
{
    host *h = &hosts[(int)(intptr_t)ctx];
    size_t i;
    h->locals_asked++;
    for (i = 0; i < h->nlocals && i < max; i++)
        out[i] = h->locals[i];
    return i;
}

/* Which host receives a datagram sent to `to`; -1: dropped on the way. */
static int destination(const packet *p)
{
    int h;
    if (rp_addr_same(&p->to, &HP_ADDR))
        return HP_HOST;
    for (h = SERVER_HOST; h < HOSTS; h++) {
        nat *n = &hosts[h].nat;
        int m;
        if (!n->on) {
            if (rp_addr_same(&p->to, &hosts[h].local))
                return h;
            continue;
        }
        if (memcmp(p->to.ip, n->ip, 4) != 0)
            continue;
        if (now_ms < n->down_until || (m = nat_find_port(n, p->to.port)) < 0 ||
            !nat_allows(n, p->to.port, &p->from) || !rp_addr_same(&n->map[m].local, &hosts[h].local))
            return -1;
        return h;
    }
    return -1;
}

static rp_output output_of(int h)
{
    rp_output out = {send_from, random_nonce, (void *)(intptr_t)h, &hosts[h].events,
                     hosts[h].stats, send_ttl_from, locals_of};
    return out;
}

static void log_events(int h)
{
    rp_queued_event storage;
    ruphin_event ev;
    host *ho = &hosts[h];
    while (rp_events_pop(&ho->events, &storage, &ev)) {
        logged_event *l = &ho->log[ho->nlog < LOG_EVENTS ? ho->nlog++ : LOG_EVENTS - 1];
        memset(l, 0, sizeof *l);
        l->at = now_ms;
        l->ev = ev;
        if (ev.type == RUPHIN_EVENT_PATH_RESTORED && ev.len == sizeof(ruphin_addr))
            memcpy(&l->previous, ev.data, sizeof l->previous);
        if (ev.type == RUPHIN_EVENT_DATA && ev.len < sizeof l->text)
            memcpy(l->text, ev.data, ev.len);
        l->ev.data = NULL;
        /* The server's application echoes what it gets. */
        if (h == SERVER_HOST && ev.type == RUPHIN_EVENT_DATA &&
            rp_server_can_send(&server, &ev.peer) == RUPHIN_OK) {
            uint8_t buf[256];
            CHECK_EQ(rp_server_send_data(&server, &ev.peer, (const uint8_t *)l->text, ev.len,
                                         buf, sizeof buf),
                     RUPHIN_OK);
        }
    }
}

static void deliver(const packet *p)
{
    rp_frame f;
    int h = destination(p);
    if (h < 0 || rp_wire_decode(p->data, p->len, &f) != RP_WIRE_OK)
        return;
    if (h == HP_HOST)
        rp_holepuncher_input(&hp, now_ms, &p->from, &f);
    else if (h == SERVER_HOST)
        rp_server_input(&server, now_ms, &p->from, &f);
    else if (client_alive)
        rp_client_input(&client, now_ms, &p->from, &f);
    log_events(h);
}

/* The client's application: a datagram every 250 ms, numbered, while it may
 * send (connected, or punching: early data; recovering: dropped). */
static int64_t next_line;
static int lines_sent;
static bool talking;

static void client_app(void)
{
    uint8_t buf[256];
    char text[32];
    int32_t st = rp_client_public_state(&client);
    if (!talking || !client_alive || now_ms < next_line ||
        (st != RUPHIN_STATE_CONNECTED && st != RUPHIN_STATE_RECOVERING &&
         st != RUPHIN_STATE_RELAYED))
        return;
    next_line = now_ms + 250;
    snprintf(text, sizeof text, "line %d @%lld", ++lines_sent, (long long)now_ms);
    CHECK_EQ(rp_client_send_data(&client, (const uint8_t *)text, strlen(text), buf, sizeof buf),
             RUPHIN_OK);
}

/* Runs the world until `until` (ms by ms). */
static void run_until(int64_t until)
{
    for (; now_ms <= until; now_ms++) {
        int i, kept = 0;
        for (i = 0; i < nqueue; i++) {
            if (queue[i].at <= now_ms)
                deliver(&queue[i]);
            else
                queue[kept++] = queue[i];
        }
        nqueue = kept;
        rp_holepuncher_tick(&hp, now_ms);
        log_events(HP_HOST);
        rp_server_tick(&server, now_ms);
        log_events(SERVER_HOST);
        if (client_alive)
            rp_client_tick(&client, now_ms);
        log_events(CLIENT_HOST);
        client_app();
        log_events(CLIENT_HOST);
    }
}

static rp_config peer_config(void)
{
    rp_config cfg;
    rp_config_from_options(&cfg, NULL);
    cfg.keepalive_ms = 1000; /* the program's --keepalive-ms 1000 of the issue */
    cfg.max_peers = 16;
    return cfg;
}

/* A world: the holepuncher, a server and a client behind port-restricted
 * NATs (nat_server/nat_client: whether they are), a connected session, the
 * client's application talking. */
static void world(bool nat_server, bool nat_client, rp_config scfg, rp_config ccfg)
{
    rp_config hcfg;
    rp_output out;
    memset(hosts, 0, sizeof hosts);
    if (queue == NULL)
        queue = malloc(MAX_PACKETS * sizeof *queue);
    nqueue = 0;
    now_ms = 0;
    loss = 0;
    next_line = 0;
    lines_sent = 0;
    talking = client_alive = true;
    hosts[HP_HOST].local = HP_ADDR;
    hosts[SERVER_HOST].local = SERVER_LOCAL;
    hosts[CLIENT_HOST].local = CLIENT_LOCAL;
    hosts[SERVER_HOST].nat.on = nat_server;
    memcpy(hosts[SERVER_HOST].nat.ip, SERVER_PUBLIC, 4);
    hosts[CLIENT_HOST].nat.on = nat_client;
    memcpy(hosts[CLIENT_HOST].nat.ip, CLIENT_PUBLIC, 4);
    if (!nat_server)
        memcpy(hosts[SERVER_HOST].local.ip, SERVER_PUBLIC, 4);
    if (!nat_client)
        memcpy(hosts[CLIENT_HOST].local.ip, CLIENT_PUBLIC, 4);
    hosts[SERVER_HOST].locals[0] = hosts[SERVER_HOST].local;
    hosts[SERVER_HOST].nlocals = 1;
    hosts[CLIENT_HOST].locals[0] = hosts[CLIENT_HOST].local;
    hosts[CLIENT_HOST].nlocals = 1;

    rp_config_from_options(&hcfg, NULL);
    hcfg.max_sessions = 8;
    hcfg.no_amplification = hp_no_amplification;
    hcfg.relay_rate = hp_relay_rate;
    out = output_of(HP_HOST);
    CHECK_EQ(rp_holepuncher_init(&hp, &hcfg, &out, 7), RUPHIN_OK);
    out = output_of(SERVER_HOST);
    CHECK_EQ(rp_server_init(&server, &scfg, &out, &HP_ADDR, (const uint8_t *)SESSION,
                            strlen(SESSION)),
             RUPHIN_OK);
    rp_server_set_locals(&server, hosts[SERVER_HOST].locals, 1);
    out = output_of(CLIENT_HOST);
    rp_client_init(&client, &ccfg, &out, &HP_ADDR, (const uint8_t *)SESSION, strlen(SESSION));
    rp_client_set_locals(&client, hosts[CLIENT_HOST].locals, 1);
    rp_server_start(&server, 0);
    run_until(1000);
    CHECK_EQ(server.state, RUPHIN_STATE_REGISTERED);
    rp_client_start(&client, now_ms);
    run_until(3000);
}

static void end_world(void)
{
    rp_holepuncher_free(&hp);
    rp_server_free(&server);
}

/* Events of a host of a type since `from` (ms). */
static int count_events(int h, int32_t type, int64_t from)
{
    int i, n = 0;
    for (i = 0; i < hosts[h].nlog; i++)
        n += hosts[h].log[i].at >= from && hosts[h].log[i].ev.type == type;
    return n;
}

static const logged_event *first_event(int h, int32_t type, int64_t from)
{
    int i;
    for (i = 0; i < hosts[h].nlog; i++)
        if (hosts[h].log[i].at >= from && hosts[h].log[i].ev.type == type)
            return &hosts[h].log[i];
    return NULL;
}

/* When the first echo of a line sent at `from` or later came back; -1: none. */
static int64_t first_echo_after(int64_t from)
{
    int i;
    for (i = 0; i < hosts[CLIENT_HOST].nlog; i++) {
        const logged_event *l = &hosts[CLIENT_HOST].log[i];
        const char *at = strchr(l->text, '@');
        if (l->ev.type == RUPHIN_EVENT_DATA && at != NULL && atoll(at + 1) >= from)
            return l->at;
    }
    return -1;
}

static void check_connected(void)
{
    CHECK_EQ(rp_client_public_state(&client), RUPHIN_STATE_CONNECTED);
    CHECK_EQ(rp_server_connected_count(&server), 1);
    CHECK(first_echo_after(now_ms - 1000) > 0);
}

/* ---- the watch ---- */

static void test_watch_timing(void)
{
    rp_config cfg = peer_config();
    rp_watch w;
    int64_t t, lost = -1;
    int probes = 0;
    CHECK_EQ(rp_probe_gap(&cfg), 250);
    CHECK_EQ(rp_recovery_retry_max(&cfg), 500);
    /* Quiet: the keepalive's answer is a gap late, then three probes a gap
     * apart, then lost: 2 keepalives after the last word. */
    rp_watch_reset(&w);
    CHECK_EQ(rp_watch_deadline(&w, &cfg, 0), 1250);
    for (t = 0; t <= 3000 && lost < 0; t++) {
        rp_watch_action a = rp_watch_tick(&w, &cfg, 0, t);
        probes += a == RP_WATCH_PROBE;
        if (a == RP_WATCH_LOST)
            lost = t;
        CHECK(rp_watch_deadline(&w, &cfg, 0) > t || a == RP_WATCH_LOST);
    }
    CHECK_EQ(probes, RP_PATH_PROBES);
    CHECK_EQ(lost, 2000);
    /* Talking: Data unanswered for two gaps starts the probes sooner. */
    rp_watch_reset(&w);
    rp_watch_sent(&w, 100);
    rp_watch_sent(&w, 350); /* the first one counts */
    CHECK_EQ(rp_watch_deadline(&w, &cfg, 0), 600);
    CHECK_EQ(rp_watch_tick(&w, &cfg, 0, 599), RP_WATCH_QUIET);
    CHECK_EQ(rp_watch_tick(&w, &cfg, 0, 600), RP_WATCH_PROBE);
    /* An answer ends it. */
    rp_watch_reset(&w);
    CHECK_EQ(rp_watch_deadline(&w, &cfg, 700), 1950);
    /* The default keepalive: probes 2.5 s apart. */
    cfg.keepalive_ms = 10000;
    CHECK_EQ(rp_probe_gap(&cfg), 2500);
    CHECK_EQ(rp_recovery_retry_max(&cfg), 2000);
}

/* ---- the wire ---- */

static void test_wire_resume(void)
{
    uint8_t buf[160];
    const uint64_t resume[2] = {0x1112131415161718ull, 0x2122232425262728ull};
    ruphin_addr lan = CLIENT_LOCAL;
    rp_frame f;
    size_t n;
    /* JoinExt: id, locals, cookie, the two nonces; zero padding after. */
    n = rp_wire_encode_join_resume(buf, sizeof buf, (const uint8_t *)"id", 2, NULL, 0, 3, resume,
                                   0);
    CHECK_BYTES(buf, n, "\x00\x20\x00\x0c\x02id\x00" "\0\0\0\0\0\0\0\x03"
                        "\x11\x12\x13\x14\x15\x16\x17\x18" "\x21\x22\x23\x24\x25\x26\x27\x28");
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    CHECK(f.cookie == 3 && f.resume[0] == resume[0] && f.resume[1] == resume[1]);
    n = rp_wire_encode_join_resume(buf, sizeof buf, (const uint8_t *)"id", 2, &lan, 1, 0, resume,
                                   48);
    CHECK_EQ(n, 48);
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    CHECK(f.cookie == 0 && f.resume[1] == resume[1] && f.local_count == 1);
    /* A padded JoinExt of an older client resumes nothing. */
    n = rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_JOIN_EXT, (const uint8_t *)"id", 2,
                                   NULL, 0, 48);
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    CHECK(f.resume[0] == 0 && f.resume[1] == 0);
    /* PeerInfoExt to the owner: flag 64, the nonces after the locals. */
    n = rp_wire_encode_peer_info_resume(buf, sizeof buf, 5, RP_PEER_SPEAKS_EXT, &lan, NULL, 0,
                                        resume);
    CHECK_BYTES(buf, n, "\x00\x25\x00\x0d" "\0\0\0\0\0\0\0\x05" "\x41" "\x04\xc6\x12\x00\x03\x13\x88"
                        "\x00" "\x11\x12\x13\x14\x15\x16\x17\x18"
                        "\x21\x22\x23\x24\x25\x26\x27\x28");
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    CHECK(f.nonce == 5 && f.flags == (RP_PEER_SPEAKS_EXT | RP_RESUMES) && f.resume[0] == resume[0]);
    CHECK_EQ(rp_wire_decode(buf, n - 8, &f), RP_WIRE_BAD_LENGTH);
    buf[1] = (uint8_t)(n - 8);
    CHECK_EQ(rp_wire_decode(buf, n - 8, &f), RP_WIRE_BAD_PAYLOAD); /* the flag needs them */
    /* HelloExt bye: kind 2. */
    n = rp_wire_encode_hello_ext(buf, sizeof buf, RP_HELLO_EXT_BYE, 0x0102030405060708ull);
    CHECK_BYTES(buf, n, "\x00\x0d\x00\x0e\x02\x01\x02\x03\x04\x05\x06\x07\x08");
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    buf[4] = 3;
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_BAD_PAYLOAD);
}

/* ---- recovery end to end ---- */

/* The client's router forgets its mappings and maps it from another port:
 * the server hears nothing from it, it hears nothing back. Both report the
 * path lost, the client re-joins naming its connection, both punch, and the
 * session carries on at the client's new address. */
static void test_client_rebinding(void)
{
    int64_t t0, echo;
    const logged_event *restored;
    ruphin_addr before, after;
    world(true, true, peer_config(), peer_config());
    check_connected();
    before = public_of(CLIENT_HOST);
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    after = public_of(CLIENT_HOST);
    CHECK(after.port == 20000 && before.port != 20000);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, t0), 1);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_FAILED, 0), 0);
    restored = first_event(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0);
    CHECK(restored != NULL && restored->ev.len == 0); /* the server did not move */
    /* The server: lost, then restored at the new address, named with the old. */
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_LOST, t0), 1);
    restored = first_event(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0);
    CHECK(restored != NULL && ruphin_addr_equal(&restored->ev.peer, &after) == 1 &&
          restored->ev.len == sizeof(ruphin_addr) &&
          ruphin_addr_equal(&restored->previous, &before) == 1);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, 0), 0);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PEER_ANNOUNCED, t0), 0);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_CONNECTED, t0), 0);
    /* Data flows again within 3 s of the change (issue 21). */
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 3000);
    printf("  client rebinding: data back %lld ms after the change\n", (long long)(echo - t0));
    /* What the client sent while the path was down was dropped and counted. */
    CHECK(hosts[CLIENT_HOST].stats[RUPHIN_STAT_TX_DROPPED] > 0);
    check_connected();
    end_world();
}

/* The server's router rebinds: its next Register moves its session (the
 * owner token), the client's re-join learns the new address. */
static void test_server_rebinding(void)
{
    int64_t t0, echo;
    const logged_event *restored;
    ruphin_addr before, after;
    world(true, true, peer_config(), peer_config());
    check_connected();
    before = public_of(SERVER_HOST);
    t0 = now_ms;
    rebind(SERVER_HOST, 21000);
    run_until(t0 + 6000);
    after = public_of(SERVER_HOST);
    CHECK(after.port == 21000);
    restored = first_event(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0);
    CHECK(restored != NULL && ruphin_addr_equal(&restored->ev.peer, &after) == 1 &&
          ruphin_addr_equal(&restored->previous, &before) == 1);
    CHECK(ruphin_addr_equal(&client.server, &after) == 1);
    restored = first_event(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0);
    CHECK(restored != NULL && restored->ev.len == 0); /* the client did not move */
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_FAILED, 0), 0);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, 0), 0);
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 3000);
    printf("  server rebinding: data back %lld ms after the change\n", (long long)(echo - t0));
    check_connected();
    end_world();
}

static void test_both_rebind(void)
{
    int64_t t0, echo;
    world(true, true, peer_config(), peer_config());
    check_connected();
    t0 = now_ms;
    rebind(SERVER_HOST, 21000);
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 3000);
    printf("  both rebinding: data back %lld ms after the change\n", (long long)(echo - t0));
    check_connected();
    end_world();
}

/* A router reboots: nothing passes for 3 s, then it has no mappings. The
 * peers have lost the path by then and are looking for it; they find it
 * soon after the router is back. */
static void test_router_reboot(void)
{
    int h;
    for (h = SERVER_HOST; h <= CLIENT_HOST; h++) {
        int64_t t0, echo;
        world(true, true, peer_config(), peer_config());
        check_connected();
        t0 = now_ms;
        blackout(h, 3000);
        run_until(t0 + 9000);
        CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, t0), 1);
        CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
        CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_FAILED, 0), 0);
        CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, 0), 0);
        echo = first_echo_after(t0 + 3000);
        CHECK(echo > t0 + 3000 && echo - (t0 + 3000) <= 3000);
        printf("  %s router reboot: data back %lld ms after it is back\n",
               h == SERVER_HOST ? "server's" : "client's", (long long)(echo - t0 - 3000));
        check_connected();
        end_world();
    }
}

/* The client's host moves to another address on its LAN: its router maps
 * the new address to another port, and the client offers its new local
 * address with its re-join. */
static void test_client_address_change(void)
{
    int64_t t0, echo;
    const logged_event *restored;
    ruphin_addr old_public;
    world(true, true, peer_config(), peer_config());
    check_connected();
    old_public = public_of(CLIENT_HOST);
    t0 = now_ms;
    hosts[CLIENT_HOST].local.ip[3] = 4;
    hosts[CLIENT_HOST].locals[0] = hosts[CLIENT_HOST].local;
    run_until(t0 + 6000);
    restored = first_event(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0);
    CHECK(restored != NULL && ruphin_addr_equal(&restored->previous, &old_public) == 1 &&
          restored->ev.peer.port != old_public.port);
    CHECK(hosts[CLIENT_HOST].locals_asked >= 1);
    CHECK(client.local_count == 1 && client.locals[0].ip[3] == 4);
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 3000);
    check_connected();
    end_world();
}

/* A path that never comes back: FAILED (PEER_LOST) once the recovery
 * timeout passed, DISCONNECTED at the server likewise; until then the
 * client is RECOVERING, and the server reports the client no longer
 * connected. */
static void test_recovery_timeout(void)
{
    rp_config cfg = peer_config();
    int64_t t0;
    const logged_event *lost, *failed, *gone, *slost;
    cfg.recovery_timeout_ms = 5000;
    world(true, true, cfg, cfg);
    check_connected();
    t0 = now_ms;
    hosts[CLIENT_HOST].nat.down_until = INT64_MAX; /* unplugged */
    run_until(t0 + 3000);
    CHECK_EQ(rp_client_public_state(&client), RUPHIN_STATE_RECOVERING);
    CHECK_EQ(rp_server_connected_count(&server), 0);
    run_until(t0 + 12000);
    lost = first_event(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, t0);
    failed = first_event(CLIENT_HOST, RUPHIN_EVENT_FAILED, t0);
    CHECK(lost != NULL && failed != NULL && failed->ev.error == RUPHIN_ERR_PEER_LOST);
    CHECK(lost != NULL && failed != NULL && failed->at == lost->at + 5000);
    slost = first_event(SERVER_HOST, RUPHIN_EVENT_PATH_LOST, t0);
    gone = first_event(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, t0);
    CHECK(slost != NULL && gone != NULL && gone->ev.error == RUPHIN_ERR_PEER_LOST &&
          gone->at == slost->at + 5000);
    CHECK_EQ(client.state, RUPHIN_STATE_FAILED);
    CHECK_EQ(server.peers.count, 0);
    end_world();
}

/* RECOVERY_TIMEOUT_MS 0: as before, no probes, no PATH_LOST; the silence
 * limit ends it. */
static void test_recovery_off(void)
{
    rp_config cfg = peer_config();
    int64_t t0;
    const logged_event *failed;
    cfg.recovery_timeout_ms = 0;
    world(true, true, cfg, cfg);
    check_connected();
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, 0), 0);
    failed = first_event(CLIENT_HOST, RUPHIN_EVENT_FAILED, t0);
    CHECK(failed != NULL && failed->ev.error == RUPHIN_ERR_PEER_LOST &&
          failed->at - t0 <= 3000);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_LOST, 0), 0);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, t0), 1);
    end_world();
}

/* A generation-0 server (an original one): the recovery protocol does not
 * apply, the client fails as before. */
static void test_generation0_server_as_before(void)
{
    rp_config scfg = peer_config(), ccfg = peer_config();
    int64_t t0;
    scfg.extensions = false;
    hp_no_amplification = 1; /* an original server cannot prove its address */
    world(true, true, scfg, ccfg);
    hp_no_amplification = 2;
    CHECK_EQ(rp_client_public_state(&client), RUPHIN_STATE_CONNECTED);
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, 0), 0);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_FAILED, t0), 1);
    end_world();
}

/* A holepuncher of version 1 takes no resumed joins: the client re-joins
 * the plain way, and to the server it is a new client (the old one is
 * forgotten after the recovery timeout); the client carries on all the same. */
static void test_old_holepuncher_plain_rejoin(void)
{
    int64_t t0;
    world(true, true, peer_config(), peer_config());
    check_connected();
    client.hp_version = 1;
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_CONNECTED, t0), 1);
    CHECK(first_echo_after(t0) > 0);
    end_world();
}

/* The server ends its session before the client looks for it: the
 * holepuncher no longer has it, and the client fails at once. */
static void test_session_gone_while_recovering(void)
{
    int64_t t0;
    const logged_event *failed;
    world(true, true, peer_config(), peer_config());
    check_connected();
    t0 = now_ms;
    hosts[SERVER_HOST].nat.down_until = INT64_MAX;
    rp_sessions_remove(&hp.sessions, rp_sessions_find(&hp.sessions, (const uint8_t *)SESSION,
                                                      strlen(SESSION)));
    run_until(t0 + 4000);
    failed = first_event(CLIENT_HOST, RUPHIN_EVENT_FAILED, t0);
    CHECK(failed != NULL && failed->ev.error == RUPHIN_ERR_PEER_LOST);
    CHECK(failed != NULL && failed->at - first_event(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, t0)->at
                                < 200);
    end_world();
}

/* A peer that closes tells the other (HelloExt bye): the server forgets a
 * closed client at once, a client fails at once when its server closes. */
static void test_bye(void)
{
    const logged_event *gone;
    int64_t t0;
    world(true, true, peer_config(), peer_config());
    check_connected();
    t0 = now_ms;
    rp_client_stop(&client);
    client_alive = false;
    run_until(t0 + 100);
    gone = first_event(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, t0);
    CHECK(gone != NULL && gone->ev.error == 0 && gone->at - t0 <= 2 * ONE_WAY_MS);
    CHECK_EQ(server.peers.count, 0);
    end_world();

    /* A client that lost its path says it from wherever it is: its nonce
     * proves it. */
    world(true, true, peer_config(), peer_config());
    check_connected();
    t0 = now_ms;
    hosts[CLIENT_HOST].nat.down_until = INT64_MAX;
    run_until(t0 + 3000);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_LOST, t0), 1);
    {
        static const ruphin_addr ELSEWHERE = {4, 0, 7777, 0, {203, 0, 113, 77}};
        uint8_t buf[32];
        rp_frame f;
        rp_wire_decode(buf, rp_wire_encode_hello_ext(buf, sizeof buf, RP_HELLO_EXT_BYE, 99), &f);
        rp_server_input(&server, now_ms, &ELSEWHERE, &f); /* not its nonce */
        CHECK_EQ(server.peers.count, 1);
        rp_wire_decode(buf, rp_wire_encode_hello_ext(buf, sizeof buf, RP_HELLO_EXT_BYE,
                                                     client.nonce), &f);
        rp_server_input(&server, now_ms, &ELSEWHERE, &f);
        log_events(SERVER_HOST);
        CHECK_EQ(server.peers.count, 0);
        CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, t0), 1);
    }
    end_world();

    world(true, true, peer_config(), peer_config());
    check_connected();
    t0 = now_ms;
    rp_server_stop(&server);
    run_until(t0 + 100);
    gone = first_event(CLIENT_HOST, RUPHIN_EVENT_FAILED, t0);
    CHECK(gone != NULL && gone->ev.error == RUPHIN_ERR_PEER_LOST);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, 0), 0);
    end_world();
}

/* Hijack attempts (docs/SECURITY.md): a datagram from an address of the
 * attacker's claiming to be the client's new address, or the server's,
 * moves nothing and delivers nothing; a bye without the nonce ends nothing. */
static void test_spoofed_new_address_moves_nothing(void)
{
    static const ruphin_addr EVIL = {4, 0, 6666, 0, {203, 0, 113, 66}};
    uint8_t buf[64];
    rp_frame f;
    size_t n;
    ruphin_addr client_at, server_at;
    int64_t t0;
    int data_before;
    world(true, true, peer_config(), peer_config());
    check_connected();
    client_at = public_of(CLIENT_HOST);
    server_at = client.server;
    /* While the path is up. */
    t0 = now_ms;
    n = rp_wire_encode_hello_ext(buf, sizeof buf, RP_HELLO_EXT_REQ, 12345);
    rp_wire_decode(buf, n, &f);
    rp_server_input(&server, now_ms, &EVIL, &f);
    rp_client_input(&client, now_ms, &EVIL, &f);
    n = rp_wire_encode_data(buf, sizeof buf, (const uint8_t *)"evil", 4);
    rp_wire_decode(buf, n, &f);
    data_before = count_events(SERVER_HOST, RUPHIN_EVENT_DATA, 0);
    rp_server_input(&server, now_ms, &EVIL, &f);
    rp_client_input(&client, now_ms, &EVIL, &f);
    log_events(SERVER_HOST);
    log_events(CLIENT_HOST);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DATA, 0), data_before);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_DATA, t0), 0);
    n = rp_wire_encode_hello_ext(buf, sizeof buf, RP_HELLO_EXT_BYE, 12345);
    rp_wire_decode(buf, n, &f);
    rp_server_input(&server, now_ms, &client_at, &f); /* from its address, without its nonce */
    rp_client_input(&client, now_ms, &server_at, &f);
    CHECK(rp_peers_find(&server.peers, &client_at) != NULL);
    CHECK_EQ(client.state, RUPHIN_STATE_CONNECTED);
    /* While it is lost: the attacker's hellos, from its own address or the
     * client's old one, without the nonce restore nothing. */
    hosts[CLIENT_HOST].nat.down_until = INT64_MAX;
    run_until(now_ms + 3000);
    CHECK_EQ(rp_client_public_state(&client), RUPHIN_STATE_RECOVERING);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_LOST, t0), 1);
    n = rp_wire_encode_hello_ext(buf, sizeof buf, RP_HELLO_EXT_REQ, 12345);
    rp_wire_decode(buf, n, &f);
    rp_server_input(&server, now_ms, &EVIL, &f);
    rp_server_input(&server, now_ms, &client_at, &f);
    rp_client_input(&client, now_ms, &EVIL, &f);
    n = rp_wire_encode_data(buf, sizeof buf, (const uint8_t *)"evil", 4);
    rp_wire_decode(buf, n, &f);
    rp_server_input(&server, now_ms, &EVIL, &f);
    rp_client_input(&client, now_ms, &EVIL, &f);
    log_events(SERVER_HOST);
    log_events(CLIENT_HOST);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, 0), 0);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, 0), 0);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DATA, 0), data_before);
    CHECK(rp_peers_find(&server.peers, &EVIL) == NULL ||
          rp_peers_find(&server.peers, &EVIL)->state == RP_PEER_HEARD);
    CHECK(ruphin_addr_equal(&client.server, &server_at) == 1);
    /* The real client comes back and carries on. */
    hosts[CLIENT_HOST].nat.down_until = 0;
    run_until(now_ms + 3000);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, 0), 1);
    check_connected();
    end_world();
}

/* A sealed session recovers too; its Data stays sealed under the same
 * epochs. */
static void test_sealed_session_recovers(void)
{
    rp_config cfg = peer_config();
    int64_t t0, echo;
    if (!rp_seal_supported())
        return;
    cfg.sealed = true;
    memset(cfg.seal_key, 7, sizeof cfg.seal_key);
    world(true, true, cfg, cfg);
    check_connected();
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 3000);
    check_connected();
    end_world();
}

/* A session id too long for the join probe (10 bytes or more with a local
 * address): the generation-0 answer connects the client before the
 * JoinExt's does; that later answer still gives it the nonce, and with it
 * recovery. */
static void test_long_session_id_learns_the_nonce_late(void)
{
    int64_t t0, echo;
    SESSION = "a-long-session-id";
    world(true, true, peer_config(), peer_config());
    check_connected();
    CHECK(client.nonce != 0 && client.server_ext);
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 3000);
    end_world();
    SESSION = "natlab";
}

/* Peers that found no direct path talk through the holepuncher's relay;
 * when the client's router rebinds, the relay's pair no longer takes its
 * frames: the path is lost and found again through a new pair. */
static void test_relayed_session_recovers(void)
{
    rp_config cfg = peer_config();
    int64_t t0, echo;
    const logged_event *restored;
    cfg.relay_rate = 300; /* peers: punch this long before the relay */
    hp_relay_rate = 65536;
    direct_blocked = true;
    world(true, true, cfg, cfg);
    CHECK_EQ(rp_client_public_state(&client), RUPHIN_STATE_RELAYED);
    CHECK(first_echo_after(now_ms - 1000) > 0);
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 8000);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_LOST, t0), 1);
    CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_LOST, t0), 1);
    restored = first_event(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0);
    CHECK(restored != NULL);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_DISCONNECTED, 0), 0);
    CHECK_EQ(rp_client_public_state(&client), RUPHIN_STATE_RELAYED);
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 4000);
    printf("  relayed, client rebinding: data back %lld ms after the change\n",
           (long long)(echo - t0));
    end_world();
    hp_relay_rate = 0;
    direct_blocked = false;
}

/* The holepuncher's Capabilities to the client were lost (twice: with the
 * first Join and its retransmission) and the client connected without
 * them, on the answer to its join probe: it still recovers, asking for
 * them again before it re-joins. */
static void test_capabilities_lost_before_connecting(void)
{
    int64_t t0, echo;
    drop_capabilities = 2;
    world(true, true, peer_config(), peer_config());
    check_connected();
    CHECK(!client.hp_ext && client.nonce != 0);
    t0 = now_ms;
    rebind(CLIENT_HOST, 20000);
    run_until(t0 + 6000);
    CHECK(client.hp_ext);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_PATH_RESTORED, t0), 1);
    CHECK_EQ(count_events(SERVER_HOST, RUPHIN_EVENT_CONNECTED, t0), 0); /* not a new client */
    echo = first_echo_after(t0);
    CHECK(echo > t0 && echo - t0 <= 3000);
    end_world();
    drop_capabilities = 0;
}

/* With loss on every datagram, recovery still gets through, a little later. */
static void test_recovery_with_loss(void)
{
    int trial, ok = 0;
    for (trial = 0; trial < 10; trial++) {
        int64_t t0, echo;
        world(true, true, peer_config(), peer_config());
        loss = 0.05;
        run_until(now_ms + 2000);
        t0 = now_ms;
        if (trial % 2)
            rebind(SERVER_HOST, (uint16_t)(21000 + trial));
        else
            rebind(CLIENT_HOST, (uint16_t)(20000 + trial));
        run_until(t0 + 8000);
        echo = first_echo_after(t0);
        ok += echo > t0 && echo - t0 <= 4000;
        CHECK_EQ(count_events(CLIENT_HOST, RUPHIN_EVENT_FAILED, 0), 0);
        end_world();
    }
    CHECK(ok >= 9);
}

int main(void)
{
    RUN(test_watch_timing);
    RUN(test_wire_resume);
    RUN(test_client_rebinding);
    RUN(test_server_rebinding);
    RUN(test_both_rebind);
    RUN(test_router_reboot);
    RUN(test_client_address_change);
    RUN(test_recovery_timeout);
    RUN(test_recovery_off);
    RUN(test_generation0_server_as_before);
    RUN(test_old_holepuncher_plain_rejoin);
    RUN(test_session_gone_while_recovering);
    RUN(test_bye);
    RUN(test_spoofed_new_address_moves_nothing);
    RUN(test_sealed_session_recovers);
    RUN(test_long_session_id_learns_the_nonce_late);
    RUN(test_relayed_session_recovers);
    RUN(test_capabilities_lost_before_connecting);
    RUN(test_recovery_with_loss);
    free(queue);
    return check_report();
}
