/* The three role state machines driven with a fake clock and a capturing
 * output: no sockets, exact timing of every retransmission. */
#include "machine_harness.h"

static void test_server_register_backoff_then_timeout(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s;
    ruphin_event ev;
    rp_server_init(&s, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_server_start(&s, 0);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER, &HP), 1);
    RUN_CLOCK(rp_server_tick, &s, 1, 249);
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER, &HP), 1);
    rp_server_tick(&s, 250);  /* +250 */
    RUN_CLOCK(rp_server_tick, &s, 251, 750); /* +500 */
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER, &HP), 3);
    RUN_CLOCK(rp_server_tick, &s, 751, 9999); /* 1750, 3750, 5750, 7750, 9750 */
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER, &HP), 8);
    CHECK_EQ(s.state, RUPHIN_STATE_REGISTERING);
    rp_server_tick(&s, 10000);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_FAILED && ev.error == RUPHIN_ERR_TIMEOUT);
    CHECK_EQ(s.state, RUPHIN_STATE_FAILED);
    CHECK_EQ(rp_server_deadline(&s), RUPHIN_NO_DEADLINE);
    rp_server_free(&s);
}

static rp_server registered_server(rp_config *cfg, rp_output *out)
{
    rp_server s;
    rp_server_init(&s, cfg, out, &HP, (const uint8_t *)"id", 2);
    rp_server_start(&s, 0);
    rp_server_input(&s, 10, &HP, FRAME("\x00\x06\x00\x06id"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_REGISTERED);
    CHECK_EQ(s.state, RUPHIN_STATE_REGISTERED);
    return s;
}

static void test_server_refresh_and_registration_lost(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = registered_server(&cfg, &out);
    ruphin_event ev;
    int mark = nsent;
    /* An ack for another id, or from a stranger, changes nothing. */
    rp_server_input(&s, 20, &HP, FRAME("\x00\x06\x00\x06xx"));
    rp_server_input(&s, 20, &STRANGER, FRAME("\x00\x06\x00\x06id"));
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 2);
    CHECK_EQ(rp_server_deadline(&s), 10010);
    RUN_CLOCK(rp_server_tick, &s, 11, 10010);
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER, &HP), 1);
    rp_server_input(&s, 10020, &HP, FRAME("\x00\x06\x00\x06id"));
    /* Now the holepuncher goes silent: refreshes are retried, then the
     * registration counts as lost after missed keepalives. */
    mark = nsent;
    RUN_CLOCK(rp_server_tick, &s, 10021, 40019);
    CHECK(count_sent(mark, RP_FRAME_REGISTER, &HP) >= 3);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_server_tick(&s, 40020);
    ev = pop();
    CHECK_EQ(ev.type, RUPHIN_EVENT_REGISTRATION_LOST);
    CHECK_EQ(s.state, RUPHIN_STATE_REGISTERING);
    /* It re-registers for ever (no timeout) and recovers. */
    RUN_CLOCK(rp_server_tick, &s, 40021, 100000);
    CHECK_EQ(s.state, RUPHIN_STATE_REGISTERING);
    rp_server_input(&s, 100001, &HP, FRAME("\x00\x06\x00\x06id"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_REGISTERED);
    rp_server_free(&s);
}

static void test_server_punch_connect_data(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = registered_server(&cfg, &out);
    rp_frame pi = peer_info(&CLIENT);
    ruphin_event ev;
    int mark = nsent;

    rp_server_input(&s, 100, &HP, &pi);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_PEER_ANNOUNCED && ruphin_addr_equal(&ev.peer, &CLIENT) == 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_REQ, &CLIENT), 1);
    RUN_CLOCK(rp_server_tick, &s, 101, 1100); /* paced at 100 ms */
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_REQ, &CLIENT), 11);
    { /* the first five die before the client's router (low TTL), then full */
        int i, n = 0;
        for (i = mark; i < nsent; i++)
            if (sent[i].type == RP_FRAME_HELLO_REQ)
                CHECK_EQ(sent[i].ttl, n++ < RP_LOW_TTL_PUNCHES ? RP_LOW_TTL : 0);
    }
    CHECK_EQ(rp_server_can_send(&s, &CLIENT), RUPHIN_ERR_UNKNOWN_PEER);
    rp_server_input(&s, 1150, &CLIENT, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_RESP, &CLIENT), 1);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_CONNECTED && ruphin_addr_equal(&ev.peer, &CLIENT) == 1);
    CHECK_EQ(rp_server_can_send(&s, &CLIENT), RUPHIN_OK);
    mark = nsent;
    RUN_CLOCK(rp_server_tick, &s, 1151, 2000); /* punching stopped */
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_REQ, &CLIENT), 0);
    rp_server_input(&s, 2000, &CLIENT, FRAME("\x00\x06\x00\x05hi"));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 2 && memcmp(ev.data, "hi", 2) == 0);
    rp_server_input(&s, 2000, &STRANGER, FRAME("\x00\x06\x00\x05hi"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 1);
    CHECK_EQ(rp_server_connected_count(&s), 1);
    rp_server_free(&s);
}

/* ACCEPT_UNVERIFIED: Data from a peer that never said hello is delivered. */
static void test_server_accept_unverified(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s;
    ruphin_event ev;
    cfg.accept_unverified = true;
    s = registered_server(&cfg, &out);
    rp_server_input(&s, 20, &STRANGER, FRAME("\x00\x06\x00\x05hi"));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 2 && ruphin_addr_equal(&ev.peer, &STRANGER) == 1);
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 0);
    CHECK_EQ(rp_server_connected_count(&s), 0); /* delivered, not connected */
    rp_server_free(&s);
}

static void test_server_hello_before_announcement(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = registered_server(&cfg, &out);
    rp_frame pi = peer_info(&CLIENT);
    /* The client's hello beats our PeerInfo: remembered, not answered (the
     * client would send Data we cannot accept yet), not trusted. */
    rp_server_input(&s, 100, &CLIENT, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_RESP, &CLIENT), 0);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    CHECK_EQ(rp_server_can_send(&s, &CLIENT), RUPHIN_ERR_UNKNOWN_PEER);
    /* The announcement connects it at once, and our punch answers it. */
    rp_server_input(&s, 120, &HP, &pi);
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    CHECK_EQ(rp_server_can_send(&s, &CLIENT), RUPHIN_OK);
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_REQ, &CLIENT), 1);
    rp_server_input(&s, 130, &CLIENT, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_RESP, &CLIENT), 1);
    rp_server_free(&s);
}

static void test_server_punch_failed_and_disconnect(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s = registered_server(&cfg, &out);
    rp_frame pi = peer_info(&CLIENT), pi2 = peer_info(&STRANGER);
    ruphin_event ev;

    rp_server_input(&s, 100, &HP, &pi);
    rp_server_input(&s, 100, &HP, &pi2);
    pop();
    pop();
    rp_server_input(&s, 150, &STRANGER, FRAME("\x00\x04\x00\x09"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    RUN_CLOCK(rp_server_tick, &s, 101, 10100);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_PUNCH_FAILED && ruphin_addr_equal(&ev.peer, &CLIENT) == 1);
    CHECK_EQ(s.peers.count, 1);
    /* Registration refreshes continue; the connected peer stays silent. */
    RUN_CLOCK(rp_server_tick, &s, 10101, 10199);
    rp_server_input(&s, 10200, &HP, FRAME("\x00\x06\x00\x06id"));
    RUN_CLOCK(rp_server_tick, &s, 10201, 30149);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_server_tick(&s, 30150);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DISCONNECTED && ruphin_addr_equal(&ev.peer, &STRANGER) == 1);
    CHECK_EQ(s.peers.count, 0);
    rp_server_free(&s);
}

static void test_client_not_found(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    ruphin_event ev;
    rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_client_start(&c, 0);
    RUN_CLOCK(rp_client_tick, &c, 1, 800);
    CHECK_EQ(count_sent(0, RP_FRAME_JOIN, &HP), 3); /* 0, 250, 750 */
    rp_client_input(&c, 801, &STRANGER, FRAME("\x00\x06\x00\x07id")); /* not from the holepuncher */
    rp_client_input(&c, 801, &HP, FRAME("\x00\x06\x00\x07xx"));       /* another session */
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_client_input(&c, 802, &HP, FRAME("\x00\x06\x00\x07id"));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_FAILED && ev.error == RUPHIN_ERR_SESSION_NOT_FOUND);
    CHECK_EQ(c.state, RUPHIN_STATE_FAILED);
    CHECK_EQ(rp_client_deadline(&c), RUPHIN_NO_DEADLINE);
}

static void test_client_punch_connect_keepalive_lost(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    rp_frame pi = peer_info(&SERVER);
    ruphin_event ev;
    int mark;

    rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_client_start(&c, 0);
    rp_client_input(&c, 5, &HP, &pi);
    CHECK_EQ(c.state, RUPHIN_STATE_PUNCHING);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_PEER_ANNOUNCED && ruphin_addr_equal(&ev.peer, &SERVER) == 1);
    /* Punching goes on at its pace well past the second try (a defect of the
     * original client), and Join is repeated so the server hears of us again. */
    RUN_CLOCK(rp_client_tick, &c, 6, 2005);
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_REQ, &SERVER), 21);
    CHECK(count_sent(0, RP_FRAME_JOIN, &HP) >= 4);
    rp_client_input(&c, 2010, &SERVER, FRAME("\x00\x04\x00\x09"));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_CONNECTED && ruphin_addr_equal(&ev.peer, &SERVER) == 1);
    mark = nsent;
    RUN_CLOCK(rp_client_tick, &c, 2011, 12010);
    CHECK_EQ(count_sent(mark, RP_FRAME_HELLO_REQ, &SERVER), 1); /* one keepalive */
    CHECK_EQ(count_sent(mark, RP_FRAME_JOIN, &HP), 0);
    rp_client_input(&c, 12011, &SERVER, FRAME("\x00\x05\x00\x05!"));
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 1);
    rp_client_input(&c, 12012, &STRANGER, FRAME("\x00\x05\x00\x05!"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    RUN_CLOCK(rp_client_tick, &c, 12013, 42010);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_client_tick(&c, 42011);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_FAILED && ev.error == RUPHIN_ERR_PEER_LOST);
}

/* The ways a punching client connects, and what it makes of announcements. */
static void test_client_connects_on_any_hello_or_data(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    rp_frame pi = peer_info(&SERVER), moved = peer_info(&STRANGER);
    ruphin_event ev;

    /* A newer PeerInfo replaces the server's address: the old one is a stranger now. */
    rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_client_start(&c, 0);
    rp_client_input(&c, 5, &HP, &pi);
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    rp_client_input(&c, 6, &HP, &moved);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE); /* announced once */
    CHECK(ruphin_addr_equal(&c.server, &STRANGER) == 1);
    rp_client_input(&c, 7, &SERVER, FRAME("\x00\x04\x00\x09"));
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 1);
    CHECK_EQ(c.state, RUPHIN_STATE_PUNCHING);
    /* Data from the server connects, then is delivered. */
    rp_client_input(&c, 8, &STRANGER, FRAME("\x00\x06\x00\x05hi"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_DATA && ev.len == 2 && memcmp(ev.data, "hi", 2) == 0);
    /* Once connected, a PeerInfo from the holepuncher is a late answer to a
     * Join: ignored, not counted; from anyone else it is unexpected. */
    rp_client_input(&c, 9, &HP, &pi);
    CHECK(ruphin_addr_equal(&c.server, &STRANGER) == 1);
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 1);
    rp_client_input(&c, 9, &SERVER, &pi);
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 2);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);

    /* A HelloReq from the server connects too, and is answered. */
    out = setup(&cfg);
    rp_client_init(&c, &cfg, &out, &HP, (const uint8_t *)"id", 2);
    rp_client_start(&c, 0);
    rp_client_input(&c, 5, &HP, &pi);
    pop();
    rp_client_input(&c, 6, &SERVER, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_CONNECTED);
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_RESP, &SERVER), 1);
}

static void test_client_handshake_timeout(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    rp_frame pi = peer_info(&SERVER);
    ruphin_event ev;
    rp_client_init(&c, &cfg, &out, &HP, NULL, 0);
    rp_client_start(&c, 0);
    rp_client_input(&c, 5, &HP, &pi);
    CHECK_EQ(pop().type, RUPHIN_EVENT_PEER_ANNOUNCED);
    RUN_CLOCK(rp_client_tick, &c, 6, 9999);
    CHECK_EQ(c.state, RUPHIN_STATE_PUNCHING);
    rp_client_tick(&c, 10000);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_FAILED && ev.error == RUPHIN_ERR_TIMEOUT);
}

static void test_holepuncher(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    ruphin_event ev;
    int mark;

    cfg.no_amplification = false; /* short ids, as the original allowed */
    CHECK_EQ(rp_holepuncher_init(&hp, &cfg, &out, 42), RUPHIN_OK);
    rp_holepuncher_input(&hp, 0, &SERVER, FRAME("\x00\x06\x00\x02id"));
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &SERVER), 1);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_SESSION_REGISTERED && ev.len == 2 && memcmp(ev.data, "id", 2) == 0);
    /* Someone else registering the same id gets nothing and takes nothing. */
    rp_holepuncher_input(&hp, 1, &STRANGER, FRAME("\x00\x06\x00\x02id"));
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &STRANGER), 0);
    CHECK_EQ(stats[RUPHIN_STAT_REGISTER_CONFLICTS], 1);
    mark = nsent;
    rp_holepuncher_input(&hp, 2, &CLIENT, FRAME("\x00\x06\x00\x03id"));
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &CLIENT), 1);
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &SERVER), 1);
    /* The owner's PeerInfo first: the joiner's first hello finds it informed. */
    CHECK(nsent == mark + 2 && ruphin_addr_equal(&sent[mark].to, &SERVER) == 1);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_JOINED);
    rp_holepuncher_input(&hp, 3, &CLIENT, FRAME("\x00\x06\x00\x03no"));
    CHECK_EQ(count_sent(0, RP_FRAME_SESSION_NOT_FOUND, &CLIENT), 1);
    rp_holepuncher_input(&hp, 3, &CLIENT, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_RESP, &CLIENT), 1);
    rp_holepuncher_input(&hp, 3, &CLIENT, FRAME("\x00\x04\x00\x05"));
    CHECK_EQ(stats[RUPHIN_STAT_RX_UNEXPECTED], 1);
    /* Table bound: 3 sessions; the 4th new id is refused, refreshes still work. */
    rp_holepuncher_input(&hp, 4, &CLIENT, FRAME("\x00\x05\x00\x02" "a"));
    rp_holepuncher_input(&hp, 4, &CLIENT, FRAME("\x00\x05\x00\x02" "b"));
    mark = nsent;
    rp_holepuncher_input(&hp, 4, &CLIENT, FRAME("\x00\x05\x00\x02" "c"));
    CHECK_EQ(nsent, mark);
    CHECK_EQ(stats[RUPHIN_STAT_SESSIONS_REFUSED], 1);
    CHECK_EQ(hp.sessions.count, 3);
    pop();
    pop();
    /* Expiry: "id" refreshed at 20000 lives until 50000; the others go at 30004. */
    rp_holepuncher_input(&hp, 20000, &SERVER, FRAME("\x00\x06\x00\x02id"));
    CHECK_EQ(rp_holepuncher_deadline(&hp), 30004);
    rp_holepuncher_tick(&hp, 30003);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_holepuncher_tick(&hp, 30004);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_EXPIRED);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_EXPIRED);
    CHECK_EQ(hp.sessions.count, 1);
    CHECK_EQ(rp_holepuncher_deadline(&hp), 50000);
    rp_holepuncher_tick(&hp, 50000);
    ev = pop();
    CHECK(ev.type == RUPHIN_EVENT_SESSION_EXPIRED && ev.len == 2);
    CHECK_EQ(rp_holepuncher_deadline(&hp), RUPHIN_NO_DEADLINE);
    /* After expiry another owner may take the id. */
    rp_holepuncher_input(&hp, 50001, &STRANGER, FRAME("\x00\x06\x00\x02id"));
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &STRANGER), 1);
    rp_holepuncher_free(&hp);
}

static void test_holepuncher_refuses_amplifying_joins(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    rp_holepuncher_init(&hp, &cfg, &out, 42); /* the default: no amplification */
    rp_holepuncher_input(&hp, 0, &SERVER, FRAME("\x00\x06\x00\x02id"));
    /* A 6-byte Join would get an 11-byte PeerInfo: refused, nothing sent. */
    rp_holepuncher_input(&hp, 1, &CLIENT, FRAME("\x00\x06\x00\x03id"));
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &CLIENT), 0);
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &SERVER), 0);
    CHECK_EQ(stats[RUPHIN_STAT_RX_REFUSED], 1);
    /* Unknown sessions are still answered: SessionNotFound is as long as the Join. */
    rp_holepuncher_input(&hp, 1, &CLIENT, FRAME("\x00\x06\x00\x03no"));
    CHECK_EQ(count_sent(0, RP_FRAME_SESSION_NOT_FOUND, &CLIENT), 1);
    /* An id of 7 bytes or more makes a Join as long as the IPv4 answer, but
     * by default the session of an original server (which cannot prove its
     * address) is not joined at all: its owner would get an unasked PeerInfo. */
    rp_holepuncher_input(&hp, 2, &SERVER, FRAME("\x00\x0b\x00\x02session"));
    rp_holepuncher_input(&hp, 3, &CLIENT, FRAME("\x00\x0b\x00\x03session"));
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &CLIENT), 0);
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &SERVER), 0);
    rp_holepuncher_free(&hp);
    /* Mode 1 serves original servers: then the long enough Join is answered. */
    out = setup(&cfg);
    cfg.no_amplification = 1;
    rp_holepuncher_init(&hp, &cfg, &out, 42);
    rp_holepuncher_input(&hp, 0, &SERVER, FRAME("\x00\x06\x00\x02id"));
    rp_holepuncher_input(&hp, 1, &CLIENT, FRAME("\x00\x06\x00\x03id"));
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &CLIENT), 0); /* still too short */
    rp_holepuncher_input(&hp, 2, &SERVER, FRAME("\x00\x0b\x00\x02session"));
    rp_holepuncher_input(&hp, 3, &CLIENT, FRAME("\x00\x0b\x00\x03session"));
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &CLIENT), 1);
    rp_holepuncher_free(&hp);
}

static void test_holepuncher_rate_limits(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    int i;
    cfg.rate_limit = 10;
    cfg.no_amplification = 1; /* the owner below registers the original way */
    rp_holepuncher_init(&hp, &cfg, &out, 42);
    for (i = 0; i < 25; i++)
        rp_holepuncher_input(&hp, 5000, &STRANGER, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_RESP, &STRANGER), 10); /* 10 per second */
    CHECK_EQ(stats[RUPHIN_STAT_RX_REFUSED], 15);
    rp_holepuncher_input(&hp, 5000, &CLIENT, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_RESP, &CLIENT), 1); /* others are not affected */
    rp_holepuncher_input(&hp, 6000, &STRANGER, FRAME("\x00\x04\x00\x08"));
    CHECK_EQ(count_sent(0, RP_FRAME_HELLO_RESP, &STRANGER), 11); /* a new second */
    /* Joins toward one owner count against the owner's budget too. */
    rp_holepuncher_input(&hp, 7000, &SERVER, FRAME("\x00\x0b\x00\x02session"));
    for (i = 0; i < 20; i++) {
        ruphin_addr joiner = CLIENT;
        joiner.port = (uint16_t)(7000 + i);
        rp_holepuncher_input(&hp, 7000, &joiner, FRAME("\x00\x0b\x00\x03session"));
    }
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &SERVER), 10);
    rp_holepuncher_free(&hp);
}

static void test_holepuncher_expiry_waits_for_queue_room(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    int i, events = 0;
    cfg.max_sessions = 1000;
    rp_holepuncher_init(&hp, &cfg, &out, 42);
    for (i = 0; i < 200; i++) {
        uint8_t buf[8];
        rp_frame f;
        size_t n = rp_wire_encode_session(buf, sizeof buf, RP_FRAME_REGISTER, (uint8_t *)&i, sizeof i);
        rp_wire_decode(buf, n, &f);
        rp_holepuncher_input(&hp, 0, &CLIENT, &f);
        pop();
    }
    /* 200 sessions expire at once; the queue holds 64: nothing is lost, the
     * rest waits for the next tick. */
    while (hp.sessions.count > 0 && events < 1000) {
        rp_holepuncher_tick(&hp, 40000);
        while (pop().type == RUPHIN_EVENT_SESSION_EXPIRED)
            events++;
    }
    CHECK_EQ(events, 200);
    CHECK_EQ(stats[RUPHIN_STAT_EVENTS_DROPPED], 0);
    rp_holepuncher_free(&hp);
}

static void test_holepuncher_without_session_events(void)
{
    /* RUPHIN_OPT_SESSION_EVENTS 0: the same answers, sessions and expiry,
     * but no event for a session registered, joined or expired. */
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    int types = 0;
    cfg.no_amplification = false; /* short ids, as the original allowed */
    cfg.session_events = false;
    CHECK_EQ(rp_holepuncher_init(&hp, &cfg, &out, 42), RUPHIN_OK);
    rp_holepuncher_input(&hp, 0, &SERVER, FRAME("\x00\x06\x00\x02id"));
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER_ACK, &SERVER), 1);
    rp_holepuncher_input(&hp, 1, &CLIENT, FRAME("\x00\x06\x00\x03id")); /* a Join */
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO, &CLIENT), 1);
    CHECK_EQ(hp.sessions.count, 1);
    rp_holepuncher_tick(&hp, 40000);
    CHECK_EQ(hp.sessions.count, 0);
    while (pop().type != RUPHIN_EVENT_NONE)
        types++;
    CHECK_EQ(types, 0);
    rp_holepuncher_free(&hp);
}

int main(void)
{
    RUN(test_server_register_backoff_then_timeout);
    RUN(test_server_refresh_and_registration_lost);
    RUN(test_server_punch_connect_data);
    RUN(test_server_accept_unverified);
    RUN(test_server_hello_before_announcement);
    RUN(test_server_punch_failed_and_disconnect);
    RUN(test_client_not_found);
    RUN(test_client_punch_connect_keepalive_lost);
    RUN(test_client_connects_on_any_hello_or_data);
    RUN(test_client_handshake_timeout);
    RUN(test_holepuncher);
    RUN(test_holepuncher_refuses_amplifying_joins);
    RUN(test_holepuncher_rate_limits);
    RUN(test_holepuncher_expiry_waits_for_queue_room);
    RUN(test_holepuncher_without_session_events);
    return check_report();
}
