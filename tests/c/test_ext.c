/* Generation 1 in the state machines: the probe, JoinExt and PeerInfoExt,
 * and the nonce that lets a peer adopt the address hellos really come from
 * (symmetric NAT, LAN addresses). */
#include "machine_harness.h"
#include "steer.h"

static const ruphin_addr CLIENT_LAN = {4, 0, 5000, 0, {10, 0, 0, 3}};
static const ruphin_addr CLIENT_NATTED = {4, 0, 61234, 0, {192, 0, 2, 3}}; /* other port */

static rp_frame *hello_ext(uint8_t kind, uint64_t nonce)
{
    static uint8_t buf[32];
    return decoded(buf, rp_wire_encode_hello_ext(buf, sizeof buf, kind, nonce));
}

static rp_frame *peer_info_ext(uint64_t nonce, uint8_t flags, const ruphin_addr *peer,
                               const ruphin_addr *locals, size_t n)
{
    static uint8_t buf[160];
    return decoded(buf, rp_wire_encode_peer_info_ext(buf, sizeof buf, nonce, flags, peer, locals, n));
}

static rp_frame *join_ext(const char *id, const ruphin_addr *locals, size_t n, size_t pad_to)
{
    static uint8_t buf[160];
    return decoded(buf, rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_JOIN_EXT,
                                                   (const uint8_t *)id, strlen(id), locals, n,
                                                   pad_to));
}

static rp_frame *register_ext(const char *id)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_REGISTER_EXT,
                                                   (const uint8_t *)id, strlen(id), NULL, 0, 0));
}

/* The cookie the holepuncher gives addr with Capabilities. */
static uint64_t probe_cookie(rp_holepuncher *hp, const ruphin_addr *addr)
{
    rp_holepuncher_input(hp, 0, addr, FRAME("\x00\x0d\x00\x06\xffruphin/1"));
    return sent[nsent - 1].cookie;
}

/* RegisterExt with a proof. */
static rp_frame *claim(const char *id, uint64_t token, uint64_t cookie)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_register_proof(buf, sizeof buf, (const uint8_t *)id,
                                                      strlen(id), NULL, 0, token, cookie));
}

static rp_frame *join_cookie(const char *id, uint64_t cookie)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_join_cookie(buf, sizeof buf, (const uint8_t *)id,
                                                   strlen(id), NULL, 0, cookie));
}

static rp_frame *join_probe(const char *id, const ruphin_addr *locals, size_t n)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_join_probe(buf, sizeof buf, (const uint8_t *)id,
                                                  strlen(id), locals, n));
}

/* A cookie is good in the window it was made in and the next one, not
 * later (the holepuncher checks the window by comparing times, dividing
 * only when one ends). */
static void test_cookies_last_one_window_more(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    int64_t life, window;
    uint64_t cookie;
    int mark;
    cfg.extensions = true;
    cfg.no_amplification = 1;
    cfg.rate_limit = 0;
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    life = cfg.keepalive_ms * cfg.missed_keepalives;
    window = life > 30000 ? life : 30000;
    rp_holepuncher_input(&hp, 0, &SERVER, register_ext("id"));
    rp_holepuncher_input(&hp, window / 2, &SERVER, register_ext("id"));
    cookie = probe_cookie(&hp, &CLIENT); /* made at 0, in window 0 */
    mark = nsent;
    rp_holepuncher_input(&hp, window - 1, &CLIENT, join_cookie("id", cookie));
    rp_holepuncher_input(&hp, window, &SERVER, register_ext("id"));
    rp_holepuncher_input(&hp, window + 1, &CLIENT, join_cookie("id", cookie));
    rp_holepuncher_input(&hp, 2 * window - 1, &CLIENT, join_cookie("id", cookie));
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &CLIENT), 3);
    mark = nsent;
    rp_holepuncher_input(&hp, 2 * window, &CLIENT, join_cookie("id", cookie));
    rp_holepuncher_input(&hp, 3 * window + 7, &CLIENT, join_cookie("id", cookie));
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &CLIENT), 0);
    CHECK_EQ(stats[RUPHIN_STAT_RX_REFUSED], 2);
    rp_holepuncher_free(&hp);
}

static rp_server ext_server(rp_config *cfg, rp_output *out)
{
    rp_server s;
    cfg->extensions = true;
    rp_server_init(&s, cfg, out, &HP, (const uint8_t *)"id", 2);
    rp_server_start(&s, 0);
    rp_server_input(&s, 1, &HP, FRAME("\x00\x05\x00\x0a\x01")); /* Capabilities */
    rp_server_input(&s, 2, &HP, FRAME("\x00\x06\x00\x06id"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_REGISTERED);
    return s;
}

static void test_wire_ext_vectors(void)
{
    uint8_t buf[160];
    ruphin_addr lan = CLIENT_LAN;
    CHECK_BYTES(buf, rp_wire_encode_capabilities(buf, sizeof buf, 0), "\x00\x05\x00\x0a\x02");
    CHECK_BYTES(buf, rp_wire_encode_hello_ext(buf, sizeof buf, RP_HELLO_EXT_RESP, 0x0102030405060708ull),
                "\x00\x0d\x00\x0e\x01\x01\x02\x03\x04\x05\x06\x07\x08");
    CHECK_BYTES(buf, rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_JOIN_EXT,
                                                (const uint8_t *)"id", 2, &lan, 1, 0),
                "\x00\x0f\x00\x0c\x02id\x01\x04\x0a\x00\x00\x03\x13\x88");
    CHECK_EQ(rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_JOIN_EXT, (const uint8_t *)"id",
                                        2, &lan, 1, 40), 40);
    CHECK_EQ(decoded(buf, 40)->local_count, 1);
    buf[39] = 1; /* padding must be zeros */
    { rp_frame f; CHECK_EQ(rp_wire_decode(buf, 40, &f), RP_WIRE_BAD_PAYLOAD); }
    CHECK_BYTES(buf, rp_wire_encode_peer_info_ext(buf, sizeof buf, 9, RP_PEER_SPEAKS_EXT, &SERVER, NULL, 0),
                "\x00\x15\x00\x0d\0\0\0\0\0\0\0\x09\x01\x04\xc6\x33\x64\x02\x0f\xa0\x00");
    CHECK_EQ(rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_JOIN_EXT, (const uint8_t *)"id",
                                        2, &lan, RP_MAX_LOCALS + 1, 0), 0);
}

static void test_holepuncher_ext(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    ruphin_addr lan = CLIENT_LAN;
    int mark;
    cfg.extensions = true;
    cfg.no_amplification = 1; /* these owners register without proof (test_owner.c has proofs) */
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    /* The probe gets Capabilities; a probe with another id is just unexpected. */
    rp_holepuncher_input(&hp, 0, &CLIENT, FRAME("\x00\x0d\x00\x06\xffruphin/1"));
    CHECK_EQ(count_sent(0, RP_FRAME_CAPABILITIES, &CLIENT), 1);
    rp_holepuncher_input(&hp, 0, &CLIENT, FRAME("\x00\x0d\x00\x06\xffruphin/2"));
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 1);
    rp_holepuncher_input(&hp, 0, &SERVER, register_ext("id"));
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &SERVER), 1);
    pop();
    /* An unpadded JoinExt would be answered with more bytes than it has. */
    mark = nsent;
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", &lan, 1, 0));
    CHECK_EQ(nsent, mark);
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", &lan, 1, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &CLIENT), 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &SERVER), 1);
    /* The owner's first (it must know the joiner before its hellos arrive). */
    CHECK(ruphin_addr_equal(&sent[mark].to, &SERVER) == 1);
    CHECK(ruphin_addr_equal(&sent[mark + 1].to, &CLIENT) == 1);
    CHECK(sent[mark].nonce != 0 && sent[mark].nonce == sent[mark + 1].nonce);
    CHECK_EQ(sent[mark + 1].flags, RP_PEER_SPEAKS_EXT); /* its LAN address has its port */
    CHECK_EQ(sent[mark].local_count, 1); /* the owner learns the joiner's LAN address */
    /* An owner that registered the old way gets a generation-0 PeerInfo. */
    rp_holepuncher_input(&hp, 0, &SERVER, FRAME("\x00\x06\x00\x02id"));
    mark = nsent;
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", NULL, 0, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO, &SERVER), 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &CLIENT), 1);
    CHECK_EQ(sent[mark + 1].type, RP_FRAME_PEER_INFO_EXT);
    /* The owner does not speak generation 1; the joiner gave no local
     * address with the port we see. */
    CHECK_EQ(sent[mark + 1].flags, RP_PORT_CHANGED);
    rp_holepuncher_free(&hp);
}

static void test_holepuncher_without_extensions_ignores_them(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    rp_holepuncher_init(&hp, &cfg, &out, 1); /* extensions off, like an original */
    rp_holepuncher_input(&hp, 0, &CLIENT, FRAME("\x00\x0d\x00\x06\xffruphin/1"));
    rp_holepuncher_input(&hp, 0, &SERVER, register_ext("id"));
    CHECK_EQ(nsent, 0);
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 2);
    rp_holepuncher_free(&hp);
}

static void test_server_adopts_symmetric_nat_address(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    ruphin_addr lan = CLIENT_LAN;
    ruphin_event ev;
    int mark = nsent;

    rp_server_input(&s, 10, &HP, peer_info_ext(77, RP_PEER_SPEAKS_EXT, &CLIENT, &lan, 1));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    /* Punches go to the public and the LAN address, with the nonce. */
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &CLIENT), 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &CLIENT_LAN), 1);
    CHECK_EQ(sent[nsent - 1].nonce, 77);
    /* A hello with a wrong nonce proves nothing. */
    rp_server_input(&s, 20, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 78));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    /* The right nonce from another port: that is where the client really is. */
    mark = nsent;
    rp_server_input(&s, 30, &STRANGER, hello_ext(RP_HELLO_EXT_REQ, 77));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_CONNECTED && ruphin_addr_equal(&ev.peer, &STRANGER) == 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &STRANGER), 1); /* the response */
    CHECK_EQ(rp_server_can_send(&s, &STRANGER), RUPHIN_OK);
    CHECK_EQ(rp_server_can_send(&s, &CLIENT), RUPHIN_ERR_UNKNOWN_PEER);
    rp_server_input(&s, 40, &CLIENT, FRAME("\x00\x05\x00\x05x"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_server_input(&s, 40, &STRANGER, FRAME("\x00\x05\x00\x05x"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_DATA);
    /* The client proves the nonce on another path (it took our LAN punch):
     * the server follows it there, and says so. */
    rp_server_input(&s, 50, &CLIENT_LAN, hello_ext(RP_HELLO_EXT_RESP, 77));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DISCONNECTED && ruphin_addr_equal(&ev.peer, &STRANGER) == 1);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_CONNECTED && ruphin_addr_equal(&ev.peer, &CLIENT_LAN) == 1);
    CHECK_EQ(rp_server_can_send(&s, &CLIENT_LAN), RUPHIN_OK);
    CHECK_EQ(rp_server_can_send(&s, &STRANGER), RUPHIN_ERR_UNKNOWN_PEER);
    rp_server_free(&s);
}

static void test_server_adoption_replaces_an_unproven_hello(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    ruphin_event ev;
    rp_server_input(&s, 10, &HP, peer_info_ext(9, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    /* The client's generation-0 punch from its symmetric NAT's new port... */
    rp_server_input(&s, 11, &CLIENT_NATTED, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    /* ...then its HelloExt from the same port proves it is the announced one. */
    rp_server_input(&s, 12, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 9));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_CONNECTED && ruphin_addr_equal(&ev.peer, &CLIENT_NATTED) == 1);
    CHECK_EQ(s.peers.count, 1);
    rp_server_free(&s);
}

static void test_server_hello_ext_before_announcement(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    ruphin_event ev;
    rp_server_input(&s, 10, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 5));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_server_input(&s, 11, &HP, peer_info_ext(5, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_CONNECTED && ruphin_addr_equal(&ev.peer, &CLIENT_NATTED) == 1);
    rp_server_free(&s);
}

/* A generation-1 client told about SERVER (nonce, PeerInfoExt flags) at 2 ms. */
static void punching_client(rp_client *c, rp_config *cfg, rp_output *out, uint64_t nonce,
                            uint8_t flags)
{
    cfg->extensions = true;
    rp_client_init(c, cfg, out, &HP, (const uint8_t *)"id", 2);
    rp_client_start(c, 0);
    rp_client_input(c, 1, &HP, FRAME("\x00\x05\x00\x0a\x01"));
    rp_client_input(c, 2, &HP, peer_info_ext(nonce, flags, &SERVER, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
}

static void test_client_ext_flow_and_adoption(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    ruphin_addr lan = CLIENT_LAN;
    ruphin_event ev;
    int mark;
    cfg.extensions = true;
    rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_client_set_locals(&c, &lan, 1);
    rp_client_start(&c, 0);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &HP), 2); /* the probe, the join probe */
    CHECK_EQ(count_join_probes(0, &HP), 1);
    CHECK(sent[1].join_probe && sent[1].local_count == 1 && sent[1].len == RP_JOIN_PROBE_LEN);
    CHECK_EQ(count_sent(0, RP_FRAME_JOIN, &HP), 1);
    rp_client_input(&c, 1, &HP, FRAME("\x00\x05\x00\x0a\x01"));
    CHECK_EQ(count_sent(0, RP_FRAME_JOIN_EXT, &HP), 1);
    CHECK_EQ(sent[nsent - 1].local_count, 1);
    rp_client_input(&c, 2, &HP, peer_info_ext(42, RP_PEER_SPEAKS_EXT, &SERVER, NULL, 0));
    CHECK_EQ(c.state, RUPHIN_STATE_PUNCHING);
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_EXT, &SERVER), 1);
    /* The late generation-0 answer to the first Join changes nothing. */
    { rp_frame pi = peer_info(&STRANGER); rp_client_input(&c, 3, &HP, &pi); }
    CHECK(ruphin_addr_equal(&c.server, &SERVER) == 1);
    /* The server's hello comes from another address: adopt it. */
    mark = nsent;
    rp_client_input(&c, 4, &STRANGER, hello_ext(RP_HELLO_EXT_REQ, 42));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_CONNECTED && ruphin_addr_equal(&ev.peer, &STRANGER) == 1);
    /* The answer, and a hello that tells the server which path we took. */
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &STRANGER), 2);
    rp_client_input(&c, 5, &STRANGER, FRAME("\x00\x05\x00\x05x"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_DATA);
    rp_client_input(&c, 6, &SERVER, hello_ext(RP_HELLO_EXT_REQ, 41));
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 1);
    /* Keepalives keep using generation 1. */
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, 7, 10004);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &STRANGER), 1);
}

static void test_client_with_generation0_server(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    cfg.extensions = true;
    rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_client_start(&c, 0);
    rp_client_input(&c, 1, &HP, FRAME("\x00\x05\x00\x0a\x01"));
    rp_client_input(&c, 2, &HP, peer_info_ext(42, 0, &SERVER, NULL, 0));
    /* The server does not speak generation 1: plain HelloReq only. */
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_REQ, &SERVER), 1);
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_EXT, &SERVER), 0);
    rp_client_input(&c, 3, &SERVER, FRAME("\x00\x04\x00\x09"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
}

static rp_frame *relay(uint64_t nonce, const char *payload)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_relay(buf, sizeof buf, nonce, (const uint8_t *)payload,
                                             strlen(payload)));
}

static void test_relay_through_the_holepuncher(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    int mark;
    cfg.extensions = true;
    cfg.relay_rate = 40; /* bytes per second for the pair */
    cfg.no_amplification = 1; /* the owner registers without proof */
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    /* Only between addresses that proved themselves with cookies: an owner
     * that registered without one, or a joiner that only padded, gets none. */
    rp_holepuncher_input(&hp, 0, &SERVER, register_ext("id"));
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", NULL, 0, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(sent[nsent - 1].flags, RP_PEER_SPEAKS_EXT | RP_PORT_CHANGED);
    /* The owner's address learns its token (the session was not claimed
     * yet), then claims it with its token and cookie: now it is proven. */
    rp_holepuncher_input(&hp, 0, &SERVER, claim("id", 0, probe_cookie(&hp, &SERVER)));
    rp_holepuncher_input(&hp, 0, &SERVER, claim("id", sent[nsent - 1].token,
                                                sent[nsent - 1].cookie));
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", NULL, 0, RP_PEER_INFO_EXT_MAX_REPLY));
    /* Not offered to the padded join, but it would be with a cookie. */
    CHECK_EQ(sent[nsent - 1].flags, RP_PEER_SPEAKS_EXT | RP_RELAY_ON_PROOF | RP_PORT_CHANGED);
    CHECK_EQ(sent[nsent - 2].flags, RP_PEER_SPEAKS_EXT); /* the owner's: nothing offered */
    rp_holepuncher_input(&hp, 0, &CLIENT, join_cookie("id", probe_cookie(&hp, &CLIENT)));
    CHECK_EQ(sent[nsent - 1].flags, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED | RP_PORT_CHANGED);
    mark = nsent;
    /* Each side's frames go to the other; strangers' and unknown nonces do not. */
    rp_holepuncher_input(&hp, 1, &CLIENT, relay(last_nonce, ""));
    rp_holepuncher_input(&hp, 1, &SERVER, relay(last_nonce, "hi"));
    rp_holepuncher_input(&hp, 1, &STRANGER, relay(last_nonce, "x"));
    rp_holepuncher_input(&hp, 1, &CLIENT, relay(last_nonce + 1, "x"));
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &SERVER), 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &CLIENT), 1);
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 2);
    /* The pair's budget: 40 bytes a second (12 + 14 used so far). */
    rp_holepuncher_input(&hp, 2, &CLIENT, relay(last_nonce, "0123456789"));
    rp_holepuncher_input(&hp, 3, &CLIENT, relay(last_nonce, "0123456789"));
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &SERVER), 1);
    CHECK_EQ(stats[RUPHIN_STAT_RX_REFUSED], 2);
    rp_holepuncher_input(&hp, 1000, &CLIENT, relay(last_nonce, "0123456789"));
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &SERVER), 2); /* a new second */
    rp_holepuncher_free(&hp);
}

static void test_peers_fall_back_to_the_relay(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    rp_server s;
    ruphin_event ev;
    int mark;
    int64_t relay_from;
    uint8_t buf[64];

    punching_client(&c, &cfg, &out, 7, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED);
    /* Punching (and a pass of the port scan, with time for its answer),
     * then relay hellos too. */
    relay_from = 2 + rp_scan_delay(&cfg) + RP_SCAN_PASSES * rp_scan_pass_ms() +
                 3 * cfg.punch_interval_ms;
    CHECK(relay_from > cfg.handshake_timeout_ms / 3);
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, 3, relay_from - 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &HP), 0);
    RUN_CLOCK(rp_client_tick, &c, relay_from, relay_from + cfg.punch_interval_ms);
    CHECK(count_sent(mark, RP_FRAME_RELAY, &HP) >= 1);
    /* The server's answer through the relay: relayed, reported as such. */
    rp_client_input(&c, relay_from + 101, &HP, relay(7, ""));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_RELAYED && ruphin_addr_equal(&ev.peer, &SERVER) == 1);
    CHECK_EQ(c.state, RUPHIN_STATE_RELAYED);
    mark = nsent;
    CHECK_EQ(rp_client_send_data(&c, (const uint8_t *)"x", 1, buf, sizeof buf), RUPHIN_OK);
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &HP), 1);
    rp_client_input(&c, relay_from + 102, &HP, relay(7, "back"));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 4);
    /* A direct hello later upgrades to a direct connection. */
    rp_client_input(&c, relay_from + 103, &SERVER, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    CHECK_EQ(c.state, RUPHIN_STATE_CONNECTED);

    /* The server side: a relay hello for an announced client. */
    out = setup(&cfg);
    cfg.extensions = true;
    s = ext_server(&cfg, &out);
    rp_server_input(&s, 10, &HP, peer_info_ext(7, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT,
                                               NULL, 0));
    pop();
    mark = nsent;
    rp_server_input(&s, 20, &HP, relay(7, ""));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_RELAYED && ruphin_addr_equal(&ev.peer, &CLIENT) == 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &HP), 1); /* answered through the relay */
    rp_server_input(&s, 21, &HP, relay(7, "hi"));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 2 && ruphin_addr_equal(&ev.peer, &CLIENT) == 1);
    /* A late re-join's announcement (a new nonce): replies stay in the pair
     * the client relays through. */
    rp_server_input(&s, 21, &HP, peer_info_ext(9, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT,
                                               NULL, 0));
    mark = nsent;
    CHECK_EQ(rp_server_send_data(&s, &CLIENT, (const uint8_t *)"yo", 2, buf, sizeof buf), RUPHIN_OK);
    CHECK_EQ(count_sent(mark, RP_FRAME_RELAY, &HP), 1);
    CHECK_EQ(sent[nsent - 1].nonce, 7);
    rp_server_input(&s, 22, &HP, relay(8, "x")); /* another pair's nonce */
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_server_free(&s);
}

/* A member of a holepuncher group picks Relay nonces the group's program
 * steers back to it: low word = member mod members; the high word is kept
 * and a nonce is never 0 (which means "none"). */
static void test_group_nonces_come_back_to_their_member(void)
{
    static const uint64_t nonces[] = {0, 1, 0xffffffffu, 0x100000000ull, 0xfffffffffffffffeull,
                                      0xffffffffffffffffull, 0x0123456789abcdefull};
    unsigned members, member, i;
    for (members = 1; members <= 64; members++) {
        for (member = 0; member < members; member++) {
            for (i = 0; i < sizeof nonces / sizeof nonces[0]; i++) {
                uint64_t v = rp_steer_nonce(nonces[i], member, members);
                CHECK(v != 0);
                CHECK_EQ((uint32_t)v % members, member);
                CHECK(v >> 32 == nonces[i] >> 32);
            }
        }
    }
}

/* Frames of a type sent since log index from to addr's IP, at any port but addr's. */
static int count_probes(int from, const ruphin_addr *addr)
{
    int i, n = 0;
    for (i = from; i < nsent; i++)
        n += sent[i].type == RP_FRAME_HELLO_EXT && sent[i].to.port != addr->port &&
             memcmp(sent[i].to.ip, addr->ip, 4) == 0;
    return n;
}

/* One pass of the scan reaches every port of the range once but the centre. */
static void test_scan_order_covers_the_range(void)
{
    static uint8_t seen[65536];
    uint32_t i;
    uint16_t centers[] = {1024, 5000, 65535}, c;
    for (c = 0; c < 3; c++) {
        memset(seen, 0, sizeof seen);
        for (i = 0; i < RP_SCAN_PORTS - 1; i++)
            seen[rp_scan_port(centers[c], i)]++;
        for (i = 0; i < 65536; i++)
            if (seen[i] != (i >= RP_SCAN_FIRST_PORT && i != centers[c]))
                CHECK(0);
    }
    CHECK_EQ(rp_scan_port(5000, 0), 5001); /* the neighbours first */
    CHECK_EQ(rp_scan_port(5000, 1), 4999);
    CHECK_EQ(rp_scan_port(65535, 0), 1024); /* wrapping around */
    { ruphin_addr lo = {4, 0, 5000, 0, {127, 0, 0, 1}};
      CHECK(rp_scan_possible(&SERVER) && !rp_scan_possible(&lo)); }
}

/* Against a NAT that maps a new port per destination, the server probes the
 * client's ports once punching had its chance, paced, bounded, one pass
 * after another, and stops as soon as the client proves itself. */
static void test_server_scans_a_client_that_does_not_answer(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    int64_t start = 10 + rp_scan_delay(&cfg), pass_ms;
    int mark = nsent;

    rp_server_input(&s, 10, &HP, peer_info_ext(77, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    /* Punches die on the way to a client behind a NAT (low TTL). */
    CHECK(nsent == mark + 1 && sent[mark].ttl == RP_LOW_TTL);
    RUN_CLOCK(rp_server_tick, &s, 11, start - 1);
    CHECK_EQ(count_probes(mark, &CLIENT), 0);
    CHECK(sent[nsent - 1].ttl == RP_LOW_TTL && count_sent(mark, RP_FRAME_HELLO_EXT, &CLIENT) == 5);
    /* Then batches every few ms, at full TTL. */
    mark = nsent;
    RUN_CLOCK(rp_server_tick, &s, start, start);
    CHECK_EQ(sent[nsent - 1].ttl, 0);
    CHECK_EQ(count_probes(mark, &CLIENT), RP_SCAN_BATCH);
    CHECK_EQ(sent[mark].nonce, 77);
    CHECK_EQ(rp_server_deadline(&s), start + RP_SCAN_GAP_MS);
    /* The client joins again (a new nonce for the same client): the scan goes on. */
    rp_server_input(&s, start + 1, &HP, peer_info_ext(78, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT, NULL, 0));
    pass_ms = (RP_SCAN_PORTS - 1 + RP_SCAN_BATCH - 1) / RP_SCAN_BATCH * RP_SCAN_GAP_MS;
    RUN_CLOCK(rp_server_tick, &s, start + 1, start + pass_ms - 1);
    CHECK(count_probes(mark, &CLIENT) >= RP_SCAN_PORTS - 1 &&
          count_probes(mark, &CLIENT) < RP_SCAN_PORTS - 1 + RP_SCAN_BATCH);
    /* The client's hello from the port its NAT chose: connected, no more probes. */
    CHECK_EQ(sent[nsent - 1].nonce, 78);
    rp_server_input(&s, start + pass_ms, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 78));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    mark = nsent;
    RUN_CLOCK(rp_server_tick, &s, start + pass_ms, start + 2 * pass_ms);
    CHECK_EQ(count_probes(mark, &CLIENT_NATTED), 0);
    CHECK_EQ(s.scanning, 0);
    rp_server_free(&s);
}

/* Whom the server scans and how it punches, from the client's addresses:
 * a client without NAT gets full punches after the first; a client whose
 * NAT kept its port (a cone NAT) is not scanned. */
static void test_server_punch_ttl_and_scan_choice(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    ruphin_addr stranger_lan = STRANGER, unproven = CLIENT_NATTED;
    int64_t last = 10 + rp_scan_delay(&cfg) + 100;
    int mark = nsent, i;

    /* CLIENT is its own local address: no NAT. STRANGER's NAT kept its port. */
    stranger_lan.ip[0] = 10;
    rp_server_input(&s, 10, &HP, peer_info_ext(77, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT, &CLIENT, 1));
    rp_server_input(&s, 10, &HP, peer_info_ext(78, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &STRANGER, &stranger_lan, 1));
    /* Full TTL to the client without NAT, low TTL to the other's public
     * address (full to its LAN address). */
    CHECK(sent[mark].ttl == 0 && ruphin_addr_equal(&sent[mark].to, &CLIENT) == 1);
    CHECK(sent[mark + 1].ttl == 0 && ruphin_addr_equal(&sent[mark + 1].to, &CLIENT) == 1);
    CHECK(sent[mark + 2].ttl == RP_LOW_TTL && ruphin_addr_equal(&sent[mark + 2].to, &STRANGER) == 1);
    CHECK(sent[mark + 3].ttl == 0 && ruphin_addr_equal(&sent[mark + 3].to, &stranger_lan) == 1);
    RUN_CLOCK(rp_server_tick, &s, 11, last - 1);
    mark = nsent;
    rp_server_tick(&s, last);
    CHECK_EQ(nsent - mark, 4); /* punches, not probes */
    for (i = mark; i < nsent; i++)
        CHECK_EQ(sent[i].ttl, ruphin_addr_equal(&sent[i].to, &STRANGER) ? RP_LOW_TTL : 0);
    CHECK_EQ(count_probes(0, &CLIENT), 0);
    CHECK_EQ(count_probes(0, &STRANGER), 0);
    /* Without the relay, the holepuncher vouched for no address: no scan. */
    unproven.ip[3] = 77;
    rp_server_input(&s, last, &HP, peer_info_ext(80, RP_PEER_SPEAKS_EXT, &unproven, NULL, 0));
    RUN_CLOCK(rp_server_tick, &s, last + 1, last + 2 * rp_scan_delay(&cfg));
    CHECK_EQ(count_probes(0, &unproven), 0);
    rp_server_free(&s);
}

/* The client probes the server's ports once punching had its chance, and
 * connects on the answer from the port the server's NAT chose for it; a
 * failed handshake ends the scan with it. */
static void test_client_scans_the_server(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    ruphin_addr natted = SERVER;
    int64_t start = 2 + rp_scan_delay(&cfg);
    int mark;

    natted.port = 51234;
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT);
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, 3, start - 1);
    CHECK_EQ(count_probes(mark, &SERVER), 0);
    CHECK_EQ(rp_client_deadline(&c), start);
    RUN_CLOCK(rp_client_tick, &c, start, start + 10 * RP_SCAN_GAP_MS - 1);
    CHECK_EQ(count_probes(mark, &SERVER), 10 * RP_SCAN_BATCH);
    CHECK(sent[nsent - 1].ttl == 0 && sent[nsent - 1].nonce == 42);
    rp_client_input(&c, start + 100, &natted, hello_ext(RP_HELLO_EXT_RESP, 42));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    CHECK(ruphin_addr_equal(&c.server, &natted) == 1);
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, start + 100, start + 1000);
    CHECK_EQ(count_probes(mark, &natted), 0);

    /* No answer at all: two passes at most, nothing after the timeout. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT);
    RUN_CLOCK(rp_client_tick, &c, 3, cfg.handshake_timeout_ms + 1000);
    CHECK_EQ(c.state, RUPHIN_STATE_FAILED);
    CHECK_EQ(count_probes(0, &SERVER), RP_SCAN_PASSES * (RP_SCAN_PORTS - 1));
    CHECK_EQ(rp_client_deadline(&c), RUPHIN_NO_DEADLINE);
}

/* The holepuncher tells a joiner whether the owner registered from one of
 * its local addresses (no NAT), and whether the joiner's own port is none
 * of its local ones (its NAT changed it). */
static void test_holepuncher_tells_nat_facts(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    ruphin_addr lan = CLIENT_LAN, other = CLIENT;
    static uint8_t buf[96];
    uint64_t token;
    cfg.extensions = true;
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    rp_holepuncher_input(&hp, 0, &SERVER, claim("id", 0, probe_cookie(&hp, &SERVER)));
    token = sent[nsent - 1].token;
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", &lan, 1, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(sent[nsent - 1].flags & (RP_PEER_WITHOUT_NAT | RP_PORT_CHANGED), 0);
    other.port = (uint16_t)(CLIENT.port + 1);
    rp_holepuncher_input(&hp, 0, &other, join_ext("id", &lan, 1, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(sent[nsent - 1].flags & (RP_PEER_WITHOUT_NAT | RP_PORT_CHANGED), RP_PORT_CHANGED);
    /* The owner registers again with its own address among its locals. */
    rp_holepuncher_input(&hp, 0, &SERVER,
                         decoded(buf, rp_wire_encode_register_proof(buf, sizeof buf,
                                                                    (const uint8_t *)"id", 2,
                                                                    &SERVER, 1, token,
                                                                    probe_cookie(&hp, &SERVER))));
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", &lan, 1, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(sent[nsent - 1].flags & (RP_PEER_WITHOUT_NAT | RP_PORT_CHANGED), RP_PEER_WITHOUT_NAT);
    CHECK(sent[nsent - 1].flags & RP_PEER_PORT_KEPT);
    rp_holepuncher_free(&hp);

    /* An owner behind a NAT that kept its port (a LAN address with it). */
    out = setup(&cfg);
    cfg.extensions = true;
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    lan.port = SERVER.port;
    rp_holepuncher_input(&hp, 0, &SERVER,
                         decoded(buf, rp_wire_encode_register_proof(buf, sizeof buf,
                                                                    (const uint8_t *)"id", 2,
                                                                    &lan, 1, 0,
                                                                    probe_cookie(&hp, &SERVER))));
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("id", NULL, 0, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(sent[nsent - 1].flags & (RP_PEER_WITHOUT_NAT | RP_PEER_PORT_KEPT), RP_PEER_PORT_KEPT);
    /* One that registered without local addresses: nothing known. */
    rp_holepuncher_input(&hp, 0, &STRANGER, claim("other", 0, probe_cookie(&hp, &STRANGER)));
    rp_holepuncher_input(&hp, 0, &CLIENT, join_ext("other", NULL, 0, RP_PEER_INFO_EXT_MAX_REPLY));
    CHECK_EQ(sent[nsent - 1].flags & (RP_PEER_WITHOUT_NAT | RP_PEER_PORT_KEPT), 0);
    rp_holepuncher_free(&hp);
}

/* A client whose NAT changed its port, with the relay offered, is what the
 * server scans: its hellos have a low TTL (they must not reach the server's
 * router before the server's probe of its port left) until that scan had
 * its time; without either condition, and once connected, full hellos. */
static void test_client_hello_ttl_while_the_server_may_scan(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    int64_t end;
    int mark, i;

    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED | RP_PORT_CHANGED);
    end = 2 + rp_scan_delay(&cfg) + RP_SCAN_PASSES * rp_scan_pass_ms() + 3 * cfg.punch_interval_ms;
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == RP_LOW_TTL);
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, 3, end - 1);
    CHECK(count_sent(mark, RP_FRAME_HELLO_EXT, &SERVER) > 10);
    for (i = mark; i < nsent; i++)
        if (sent[i].type == RP_FRAME_HELLO_EXT && ruphin_addr_equal(&sent[i].to, &SERVER) == 1)
            CHECK_EQ(sent[i].ttl, RP_LOW_TTL);
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, end, end + cfg.punch_interval_ms);
    CHECK(count_sent(mark, RP_FRAME_HELLO_EXT, &SERVER) >= 1 && sent[nsent - 1].ttl == 0);

    /* Port kept, or no relay: full hellos from the start. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED);
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == 0);
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT | RP_PORT_CHANGED);
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == 0);
    /* A server without NAT: no router to clash, full hellos reach it first. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED | RP_PORT_CHANGED |
                                        RP_PEER_WITHOUT_NAT);
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == 0);

    /* Connected: keepalives at full TTL. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED | RP_PORT_CHANGED);
    rp_client_input(&c, 10, &SERVER, hello_ext(RP_HELLO_EXT_REQ, 42));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, 11, 11 + cfg.keepalive_ms);
    CHECK(count_sent(mark, RP_FRAME_HELLO_EXT, &SERVER) >= 1 && sent[nsent - 1].ttl == 0);
}

/* Each join gets a new nonce, which the peers learn at different times:
 * hellos with the one before the latest still prove the peer, older ones
 * do not. */
static void test_the_nonce_before_a_rejoin_still_counts(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    rp_client c;
    int mark;

    rp_server_input(&s, 10, &HP, peer_info_ext(5, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    rp_server_input(&s, 11, &HP, peer_info_ext(6, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    rp_server_input(&s, 12, &HP, peer_info_ext(7, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    rp_server_input(&s, 20, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 5)); /* too old */
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_server_input(&s, 21, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 6));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].nonce == 6);
    rp_server_free(&s);

    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT);
    rp_client_input(&c, 3, &HP, peer_info_ext(43, RP_PEER_SPEAKS_EXT, &SERVER, NULL, 0));
    rp_client_input(&c, 4, &HP, peer_info_ext(44, RP_PEER_SPEAKS_EXT, &SERVER, NULL, 0));
    rp_client_input(&c, 5, &STRANGER, hello_ext(RP_HELLO_EXT_RESP, 42)); /* too old */
    CHECK_EQ(c.state, RUPHIN_STATE_PUNCHING);
    mark = nsent;
    rp_client_input(&c, 6, &STRANGER, hello_ext(RP_HELLO_EXT_REQ, 43));
    CHECK_EQ(c.state, RUPHIN_STATE_CONNECTED);
    /* The answer, with the nonce the server knows; then our own request. */
    CHECK(sent[mark].flags == RP_HELLO_EXT_RESP && sent[mark].nonce == 43);
}

/* One peer missed the other's latest announcement (a re-join): the other's
 * hellos carry a nonce it never heard of. From the announced address that
 * is as good as a generation-0 hello, and answered with that nonce; from
 * anywhere else it proves nothing. */
static void test_a_missed_rejoin_still_connects_from_the_announced_address(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    rp_client c;
    int mark;

    rp_server_input(&s, 10, &HP, peer_info_ext(5, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    rp_server_input(&s, 20, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 6));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    mark = nsent;
    rp_server_input(&s, 21, &CLIENT, hello_ext(RP_HELLO_EXT_REQ, 6));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &CLIENT), 1);
    CHECK(sent[nsent - 1].nonce == 6 && sent[nsent - 1].ttl == 0); /* the client takes its own */
    /* Its keepalives keep it alive. */
    mark = nsent;
    rp_server_input(&s, 21 + cfg.keepalive_ms, &CLIENT, hello_ext(RP_HELLO_EXT_REQ, 6));
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &CLIENT), 1);
    rp_server_tick(&s, 30 + rp_config_silence_limit(&cfg));
    CHECK_EQ(rp_server_can_send(&s, &CLIENT), RUPHIN_OK);
    rp_server_free(&s);

    /* The client's side: the server's scan probe, with the nonce of a
     * re-join whose announcement the client missed. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, RP_PEER_SPEAKS_EXT);
    rp_client_input(&c, 3, &STRANGER, hello_ext(RP_HELLO_EXT_REQ, 43));
    CHECK_EQ(c.state, RUPHIN_STATE_PUNCHING);
    mark = nsent;
    rp_client_input(&c, 4, &SERVER, hello_ext(RP_HELLO_EXT_REQ, 43));
    CHECK_EQ(c.state, RUPHIN_STATE_CONNECTED);
    CHECK(sent[mark].flags == RP_HELLO_EXT_RESP && sent[mark].nonce == 43);
    CHECK(ruphin_addr_equal(&c.server, &SERVER) == 1);
}

/* A client connected by one hello of its own (its scan's probe through the
 * port the clash gave us) gets hellos until it is heard again: our answer
 * may be lost, and nothing else tells it where we are. Bounded, full TTL,
 * and they stop once it speaks on the path. */
static void test_server_confirms_until_the_client_is_heard(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    int64_t t;
    int mark, i;

    rp_server_input(&s, 10, &HP, peer_info_ext(5, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    rp_server_input(&s, 20, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 5));
    CHECK_EQ(rp_server_can_send(&s, &CLIENT_NATTED), RUPHIN_OK);
    mark = nsent;
    for (t = 20; t < 20 + 3 * RP_CONFIRM_HELLOS * cfg.punch_interval_ms; t += 10)
        rp_server_tick(&s, t);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &CLIENT_NATTED), RP_CONFIRM_HELLOS);
    for (i = mark; i < nsent; i++)
        CHECK(sent[i].ttl == 0 && sent[i].nonce == 5 && sent[i].flags == RP_HELLO_EXT_REQ);
    CHECK(rp_server_deadline(&s) > t); /* nothing more to send before the silence limit */
    rp_server_free(&s);

    out = setup(&cfg);
    s = ext_server(&cfg, &out);
    rp_server_input(&s, 10, &HP, peer_info_ext(5, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    rp_server_input(&s, 20, &CLIENT_NATTED, hello_ext(RP_HELLO_EXT_REQ, 5));
    rp_server_tick(&s, 20 + cfg.punch_interval_ms);
    rp_server_input(&s, 30 + cfg.punch_interval_ms, &CLIENT_NATTED,
                    hello_ext(RP_HELLO_EXT_RESP, 5));
    mark = nsent;
    for (t = 30 + cfg.punch_interval_ms; t < 20 + 3 * RP_CONFIRM_HELLOS * cfg.punch_interval_ms;
         t += 10)
        rp_server_tick(&s, t);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_EXT, &CLIENT_NATTED), 0);
    rp_server_free(&s);
}

/* A client ticked late scans slower (a few batches made up for per tick):
 * the relay waits for the end of the scan, but not into the last quarter
 * of the handshake. */
static void test_the_relay_waits_for_a_late_scan(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    int64_t t, quarter = cfg.handshake_timeout_ms / 4;

    punching_client(&c, &cfg, &out, 7, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED);
    for (t = 50; t < cfg.handshake_timeout_ms - quarter; t += 50) {
        rp_client_tick(&c, t);
        CHECK_EQ(count_sent(0, RP_FRAME_RELAY, &HP), 0);
    }
    CHECK(rp_scan_running(&c.scan));
    RUN_CLOCK(rp_client_tick, &c, t, t + cfg.punch_interval_ms);
    CHECK(count_sent(0, RP_FRAME_RELAY, &HP) >= 1);
    /* On time, the scan ends earlier: so does the wait. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 7, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED);
    cfg.handshake_timeout_ms = 60000;
    c.cfg.handshake_timeout_ms = 60000;
    c.give_up = 60000;
    for (t = 3; rp_scan_running(&c.scan); t += 50)
        rp_client_tick(&c, t);
    CHECK_EQ(count_sent(0, RP_FRAME_RELAY, &HP), 0);
    RUN_CLOCK(rp_client_tick, &c, t, t + 2 * cfg.punch_interval_ms);
    CHECK(count_sent(0, RP_FRAME_RELAY, &HP) >= 1);
}

/* A scan that found nobody (maybe a join from a forged address) keeps the
 * server from scanning again for a while. */
static void test_a_fruitless_scan_quiets_the_server(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    int64_t end = 10 + rp_scan_delay(&cfg) + RP_SCAN_PASSES * rp_scan_pass_ms();
    int mark;

    rp_server_input(&s, 10, &HP, peer_info_ext(77, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT, NULL, 0));
    RUN_CLOCK(rp_server_tick, &s, 11, end + 10);
    CHECK_EQ(count_probes(0, &CLIENT), RP_SCAN_PASSES * (RP_SCAN_PORTS - 1));
    rp_server_input(&s, end + 20, &HP, peer_info_ext(78, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &STRANGER, NULL, 0));
    mark = nsent;
    RUN_CLOCK(rp_server_tick, &s, end + 21, end + RP_SCAN_QUIET_MS - 1);
    CHECK_EQ(count_probes(mark, &STRANGER), 0);
    mark = nsent;
    rp_server_input(&s, end + RP_SCAN_QUIET_MS, &HP,
                    peer_info_ext(79, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT_NATTED, NULL, 0));
    RUN_CLOCK(rp_server_tick, &s, end + RP_SCAN_QUIET_MS,
              end + RP_SCAN_QUIET_MS + rp_scan_delay(&cfg));
    CHECK_EQ(count_probes(mark, &CLIENT_NATTED), RP_SCAN_BATCH); /* the first batch */
    rp_server_free(&s);
}

/* A probe or its answer lost: the probe goes again with every Join and
 * Register until the holepuncher answered. */
static void test_the_probe_is_repeated_until_answered(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    rp_server s;

    cfg.extensions = true;
    rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_client_start(&c, 0);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &HP), 2); /* the probe, the join probe */
    RUN_CLOCK(rp_client_tick, &c, 1, cfg.retransmit_ms);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &HP), 4);
    CHECK_EQ(count_join_probes(0, &HP), 2);
    CHECK_EQ(count_sent(0, RP_FRAME_JOIN, &HP), 2);
    rp_client_input(&c, cfg.retransmit_ms + 1, &HP, FRAME("\x00\x05\x00\x0a\x01"));
    CHECK_EQ(count_sent(0, RP_FRAME_JOIN_EXT, &HP), 1);
    RUN_CLOCK(rp_client_tick, &c, cfg.retransmit_ms + 1, 3 * cfg.retransmit_ms);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &HP), 4); /* answered: no more */

    out = setup(&cfg);
    cfg.extensions = true;
    rp_server_init(&s, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_server_start(&s, 0);
    RUN_CLOCK(rp_server_tick, &s, 1, cfg.retransmit_ms);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &HP), 2);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER, &HP), 1);
    rp_server_input(&s, cfg.retransmit_ms + 1, &HP, FRAME("\x00\x05\x00\x0a\x01"));
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_EXT, &HP), 1);
    rp_server_free(&s);
}

/* The join probe: a generation-0 RegisterAck with a 20-byte id (an original
 * holepuncher parses and ignores it) holding a JoinExt payload. */
static void test_join_probe_wire(void)
{
    uint8_t buf[64];
    ruphin_addr lan = CLIENT_LAN;
    rp_frame f, join;
    CHECK_BYTES(buf, rp_wire_encode_join_probe(buf, sizeof buf, (const uint8_t *)"natlab", 6, &lan, 1),
                "\x00\x18\x00\x06\xffj\x06natlab\x01\x04\x0a\x00\x00\x03\x13\x88\0\0\0");
    CHECK_EQ(rp_wire_decode(buf, RP_JOIN_PROBE_LEN, &f), RP_WIRE_OK);
    CHECK(f.type == RP_FRAME_REGISTER_ACK && f.session_id_len == RUPHIN_MAX_SESSION_ID);
    CHECK_EQ(rp_wire_is_probe(&f), 0);
    CHECK_EQ(rp_wire_decode_join_probe(&f, &join), 1);
    CHECK(join.type == RP_FRAME_JOIN_EXT && join.session_id_len == 6 &&
          memcmp(join.session_id, "natlab", 6) == 0 && join.cookie == 0);
    CHECK(join.local_count == 1 && ruphin_addr_equal(&join.locals[0], &lan) == 1);
    CHECK_EQ(join.payload_len + RP_HEADER_LEN, RP_JOIN_PROBE_LEN);
    buf[RP_JOIN_PROBE_LEN - 1] = 1; /* padding must be zeros */
    CHECK(rp_wire_decode(buf, RP_JOIN_PROBE_LEN, &f) == RP_WIRE_OK &&
          rp_wire_decode_join_probe(&f, &join) == 0);
    /* The longest ids that fit: 9 bytes with an IPv4 address, 16 without. */
    CHECK_EQ(rp_wire_encode_join_probe(buf, sizeof buf, (const uint8_t *)"123456789", 9, &lan, 1),
             RP_JOIN_PROBE_LEN);
    CHECK_EQ(rp_wire_encode_join_probe(buf, sizeof buf, (const uint8_t *)"1234567890", 10, &lan, 1), 0);
    CHECK_EQ(rp_wire_encode_join_probe(buf, sizeof buf, (const uint8_t *)"1234567890123456", 16,
                                       NULL, 0), RP_JOIN_PROBE_LEN);
    CHECK_EQ(rp_wire_encode_join_probe(buf, sizeof buf, (const uint8_t *)"12345678901234567", 17,
                                       NULL, 0), 0);
    /* Other RegisterAcks are not join probes. */
    f = *FRAME("\x00\x0d\x00\x06\xffruphin/1");
    CHECK_EQ(rp_wire_decode_join_probe(&f, &join), 0);
}

/* A join probe is answered at once like a padded JoinExt (its 24 bytes are
 * more than the answer about an IPv4 owner), telling the joiner that the
 * relay would be offered to a proven join; the answer about an IPv6 owner
 * would be larger, so that one is refused. */
static void test_holepuncher_answers_a_join_probe(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    ruphin_addr lan = CLIENT_LAN, server6 = {6, 0, 4000, 0, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                                              0, 0, 0, 0, 0, 0, 0, 2}};
    int mark;
    cfg.extensions = true;
    cfg.relay_rate = 40;
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    rp_holepuncher_input(&hp, 0, &SERVER, claim("id", 0, probe_cookie(&hp, &SERVER)));
    pop();
    mark = nsent;
    rp_holepuncher_input(&hp, 1, &CLIENT, join_probe("id", &lan, 1));
    CHECK_EQ(nsent - mark, 2);
    CHECK(sent[mark].type == RP_FRAME_PEER_INFO_EXT && ruphin_addr_equal(&sent[mark].to, &SERVER) == 1);
    CHECK_EQ(sent[mark].flags, RP_PEER_SPEAKS_EXT);
    CHECK_EQ(sent[mark].local_count, 1); /* the owner learns the joiner's LAN address */
    CHECK(sent[mark + 1].type == RP_FRAME_PEER_INFO_EXT && ruphin_addr_equal(&sent[mark + 1].to, &CLIENT) == 1);
    CHECK_EQ(sent[mark + 1].flags, RP_PEER_SPEAKS_EXT | RP_RELAY_ON_PROOF); /* its port is its own */
    CHECK(sent[mark + 1].len <= RP_JOIN_PROBE_LEN);
    CHECK(sent[mark].nonce == sent[mark + 1].nonce && sent[mark].nonce != 0);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_JOINED);
    /* An unknown id: SessionNotFound with that id. */
    mark = nsent;
    rp_holepuncher_input(&hp, 1, &CLIENT, join_probe("nope", NULL, 0));
    CHECK(nsent - mark == 1 && sent[mark].type == RP_FRAME_SESSION_NOT_FOUND &&
          sent[mark].len == RP_HEADER_LEN + 4);
    /* An IPv6 owner: a 33-byte answer to a 24-byte probe is refused. */
    rp_holepuncher_input(&hp, 2, &server6, claim("six", 0, probe_cookie(&hp, &server6)));
    mark = nsent;
    rp_holepuncher_input(&hp, 2, &CLIENT, join_probe("six", NULL, 0));
    CHECK_EQ(nsent, mark);
    CHECK_EQ(stats[RUPHIN_STAT_RX_REFUSED], 1);
    rp_holepuncher_free(&hp);

    /* Without the relay nothing is promised; without extensions a join
     * probe is just an unexpected RegisterAck, as for an original. */
    out = setup(&cfg);
    cfg.extensions = true;
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    rp_holepuncher_input(&hp, 0, &SERVER, claim("id", 0, probe_cookie(&hp, &SERVER)));
    rp_holepuncher_input(&hp, 1, &CLIENT, join_probe("id", &lan, 1));
    CHECK_EQ(sent[nsent - 1].flags, RP_PEER_SPEAKS_EXT);
    rp_holepuncher_free(&hp);
    out = setup(&cfg);
    rp_holepuncher_init(&hp, &cfg, &out, 1);
    rp_holepuncher_input(&hp, 1, &CLIENT, join_probe("id", &lan, 1));
    CHECK(nsent == 0 && stats[RUPHIN_STAT_RX_UNEXPECTED] == 1);
    rp_holepuncher_free(&hp);
}

/* The answer to the join probe says the relay would be offered once the
 * client proves its address: the server may then scan it, so its hellos go
 * low at once; the answer to its proven join settles it. */
static void test_client_hello_ttl_before_the_relay_is_settled(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    uint8_t may_scan = RP_PEER_SPEAKS_EXT | RP_RELAY_ON_PROOF | RP_PORT_CHANGED;

    punching_client(&c, &cfg, &out, 42, may_scan);
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == RP_LOW_TTL);
    /* Not offered after all (say the relay is full): full hellos at once. */
    rp_client_input(&c, 40, &HP, peer_info_ext(43, RP_PEER_SPEAKS_EXT | RP_PORT_CHANGED, &SERVER, NULL, 0));
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == 0);
    RUN_CLOCK(rp_client_tick, &c, 41, 41 + cfg.punch_interval_ms);
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == 0);

    /* Offered: low until the scan would be over, whatever comes later. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 42, may_scan);
    rp_client_input(&c, 40, &HP, peer_info_ext(43, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED | RP_PORT_CHANGED,
                                               &SERVER, NULL, 0));
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == RP_LOW_TTL);
    rp_client_input(&c, 50, &HP, peer_info_ext(44, RP_PEER_SPEAKS_EXT | RP_PORT_CHANGED, &SERVER, NULL, 0));
    CHECK(sent[nsent - 1].type == RP_FRAME_HELLO_EXT && sent[nsent - 1].ttl == RP_LOW_TTL);
}

/* The server scans a client once an announcement offers the relay, also when
 * an earlier one (the answer to the client's join probe) did not. */
static void test_server_scans_once_a_later_announcement_offers_the_relay(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    int64_t later = 60;

    rp_server_input(&s, 10, &HP, peer_info_ext(77, RP_PEER_SPEAKS_EXT, &CLIENT_NATTED, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    rp_server_input(&s, later, &HP,
                    peer_info_ext(78, RP_PEER_SPEAKS_EXT | RP_RELAY_OFFERED, &CLIENT_NATTED, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE); /* the same client */
    RUN_CLOCK(rp_server_tick, &s, later + 1, later + rp_scan_delay(&cfg) - 1);
    CHECK_EQ(count_probes(0, &CLIENT_NATTED), 0);
    RUN_CLOCK(rp_server_tick, &s, later + rp_scan_delay(&cfg), later + rp_scan_delay(&cfg));
    CHECK_EQ(count_probes(0, &CLIENT_NATTED), RP_SCAN_BATCH);
    CHECK(sent[nsent - 1].nonce == 78);
    rp_server_free(&s);
}

/* Hands the frames logged from index from on that went to `to` over to
 * deliver(ctx, frame), in order; returns the log's end before delivery. */
static int hand_over(int from, const ruphin_addr *to, void (*deliver)(void *, rp_frame *),
                     void *ctx)
{
    int end = nsent, i;
    for (i = from; i < end && i < RAW_FRAMES; i++)
        if (ruphin_addr_equal(&sent[i].to, to) == 1)
            deliver(ctx, decoded(sent_raw[i], sent[i].len));
    return end;
}

static void to_holepuncher(void *hp, rp_frame *f)
{
    rp_holepuncher_input(hp, 20, &CLIENT, f);
}

static void to_client(void *c, rp_frame *f)
{
    rp_client_input(c, 40, &HP, f);
}

/* With any session id, however short, our holepuncher announces the server
 * to a generation-1 client after one round trip: its first datagrams carry
 * the join probe, which is answered at once (a short generation-0 Join is
 * refused: its answer would be larger), as a generation-0 Join of a long id
 * is. */
static void test_one_round_trip_to_the_server_address(void)
{
    static const char *ids[] = {"a", "natlab", "123456789", "a-longer-session-id"};
    ruphin_addr lan = CLIENT_LAN;
    size_t i;
    for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        rp_config cfg;
        rp_output out = setup(&cfg);
        rp_holepuncher hp;
        rp_client c;
        int mark;
        cfg.extensions = true;
        cfg.max_sessions = 8;
        rp_holepuncher_init(&hp, &cfg, &out, 1);
        rp_holepuncher_input(&hp, 0, &SERVER, claim(ids[i], 0, probe_cookie(&hp, &SERVER)));
        pop();
        rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)ids[i], strlen(ids[i]));
        rp_client_set_locals(&c, &lan, 1);
        mark = nsent;
        rp_client_start(&c, 0);
        mark = hand_over(mark, &HP, to_holepuncher, &hp);
        hand_over(mark, &CLIENT, to_client, &c);
        CHECK_EQ(c.state, RUPHIN_STATE_PUNCHING);
        CHECK(ruphin_addr_equal(&c.server, &SERVER) == 1);
        CHECK(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &SERVER) +
              count_sent(mark, RP_FRAME_PEER_INFO, &SERVER) >= 1);
        rp_holepuncher_free(&hp);
    }
}

/* A server whose NAT kept its port, and which scans the client's ports, is
 * reached at the announced port, which the client's hellos go to already:
 * the client does not scan it too, and its relay waits for the server's
 * scan. When the server will not scan (the client's port was kept, or no
 * relay after all), the client scans: a clash at the server's router may
 * have moved the server's port. */
static void test_client_does_not_scan_a_server_that_kept_its_port(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    int64_t server_scan_end = 2 + rp_scan_delay(&cfg) + RP_SCAN_PASSES * rp_scan_pass_ms() +
                              3 * cfg.punch_interval_ms;

    punching_client(&c, &cfg, &out, 7, RP_PEER_SPEAKS_EXT | RP_PEER_PORT_KEPT | RP_RELAY_OFFERED |
                                       RP_PORT_CHANGED);
    RUN_CLOCK(rp_client_tick, &c, 3, server_scan_end - 1);
    CHECK_EQ(count_probes(0, &SERVER), 0);
    CHECK_EQ(count_sent(0, RP_FRAME_RELAY, &HP), 0);
    RUN_CLOCK(rp_client_tick, &c, server_scan_end, server_scan_end + cfg.punch_interval_ms);
    CHECK(count_sent(0, RP_FRAME_RELAY, &HP) >= 1);

    /* The server will not scan us: we scan. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 7, RP_PEER_SPEAKS_EXT | RP_PEER_PORT_KEPT | RP_RELAY_OFFERED);
    RUN_CLOCK(rp_client_tick, &c, 3, 2 + rp_scan_delay(&cfg));
    CHECK_EQ(count_probes(0, &SERVER), RP_SCAN_BATCH);
    /* Promised on proof, then not offered: the server will not scan, we do. */
    out = setup(&cfg);
    punching_client(&c, &cfg, &out, 7, RP_PEER_SPEAKS_EXT | RP_PEER_PORT_KEPT | RP_RELAY_ON_PROOF |
                                       RP_PORT_CHANGED);
    rp_client_input(&c, 40, &HP, peer_info_ext(8, RP_PEER_SPEAKS_EXT | RP_PEER_PORT_KEPT |
                                                  RP_PORT_CHANGED, &SERVER, NULL, 0));
    RUN_CLOCK(rp_client_tick, &c, 41, 40 + rp_scan_delay(&cfg));
    CHECK_EQ(count_probes(0, &SERVER), RP_SCAN_BATCH);
}

/* A PeerInfoExt without a nonce (0, which the holepuncher never sends) is
 * dropped: a peer whose nonce became 0 could not be found again when a
 * hello moved it (the fuzz target crashed the server so). */
static void test_server_drops_an_announcement_without_nonce(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = ext_server(&cfg, &out);
    rp_server_input(&s, 10, &HP, peer_info_ext(0, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 1);
    rp_server_input(&s, 11, &HP, peer_info_ext(5, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    rp_server_input(&s, 12, &HP, peer_info_ext(0, RP_PEER_SPEAKS_EXT, &CLIENT, NULL, 0));
    rp_server_input(&s, 13, &STRANGER, hello_ext(RP_HELLO_EXT_REQ, 9)); /* unproven, HEARD */
    rp_server_input(&s, 14, &STRANGER, hello_ext(RP_HELLO_EXT_REQ, 5)); /* moves the client */
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    rp_server_free(&s);
}

int main(void)
{
    RUN(test_group_nonces_come_back_to_their_member);
    RUN(test_wire_ext_vectors);
    RUN(test_holepuncher_ext);
    RUN(test_holepuncher_without_extensions_ignores_them);
    RUN(test_server_adopts_symmetric_nat_address);
    RUN(test_server_adoption_replaces_an_unproven_hello);
    RUN(test_server_hello_ext_before_announcement);
    RUN(test_client_ext_flow_and_adoption);
    RUN(test_client_with_generation0_server);
    RUN(test_relay_through_the_holepuncher);
    RUN(test_peers_fall_back_to_the_relay);
    RUN(test_scan_order_covers_the_range);
    RUN(test_server_scans_a_client_that_does_not_answer);
    RUN(test_server_punch_ttl_and_scan_choice);
    RUN(test_client_hello_ttl_while_the_server_may_scan);
    RUN(test_holepuncher_tells_nat_facts);
    RUN(test_client_scans_the_server);
    RUN(test_the_nonce_before_a_rejoin_still_counts);
    RUN(test_a_missed_rejoin_still_connects_from_the_announced_address);
    RUN(test_server_confirms_until_the_client_is_heard);
    RUN(test_the_relay_waits_for_a_late_scan);
    RUN(test_a_fruitless_scan_quiets_the_server);
    RUN(test_the_probe_is_repeated_until_answered);
    RUN(test_join_probe_wire);
    RUN(test_holepuncher_answers_a_join_probe);
    RUN(test_client_hello_ttl_before_the_relay_is_settled);
    RUN(test_server_scans_once_a_later_announcement_offers_the_relay);
    RUN(test_one_round_trip_to_the_server_address);
    RUN(test_client_does_not_scan_a_server_that_kept_its_port);
    RUN(test_server_drops_an_announcement_without_nonce);
    RUN(test_cookies_last_one_window_more);
    return check_report();
}
