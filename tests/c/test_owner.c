/* Ownership and return routability (docs/SECURITY.md): owner tokens that
 * move a session to its owner's new address after a NAT rebinding, cookies
 * that prove an address, and what happens without them. Frames from a new
 * address are fed to the state machines directly. */
#include "machine_harness.h"
#include "siphash.h"

/* The owner after its NAT rebound: same host, another public port. */
static const ruphin_addr SERVER_REBOUND = {4, 0, 41000, 0, {198, 51, 100, 2}};
static const uint8_t ID[] = "owned";
enum { ID_LEN = 5 };

static rp_frame *claim(uint64_t token, uint64_t cookie)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_register_proof(buf, sizeof buf, ID, ID_LEN, NULL, 0, token, cookie));
}

static rp_frame *join_cookie(uint64_t cookie)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_join_cookie(buf, sizeof buf, ID, ID_LEN, NULL, 0, cookie));
}

static rp_frame *join_padded(void)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_JOIN_EXT, ID, ID_LEN,
                                                   NULL, 0, RP_PEER_INFO_EXT_MAX_REPLY));
}

static rp_frame *ack_ext(uint64_t token, uint64_t cookie)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_register_ack_ext(buf, sizeof buf, ID, ID_LEN, token, cookie));
}

/* The cookie a probe from addr gets, at time now. */
static uint64_t probe(rp_holepuncher *hp, int64_t now, const ruphin_addr *addr)
{
    int mark = nsent;
    rp_holepuncher_input(hp, now, addr, FRAME("\x00\x0d\x00\x06\xffruphin/1"));
    CHECK_EQ(count_sent(mark, RP_FRAME_CAPABILITIES, addr), 1);
    CHECK_EQ(sent[mark].len, 13); /* as long as the probe */
    return sent[mark].cookie;
}

/* Sends f from addr; the RegisterAckExt it got, or NULL. */
static const sent_frame *claim_from(rp_holepuncher *hp, int64_t now, const ruphin_addr *addr,
                                    const rp_frame *f)
{
    int mark = nsent;
    rp_holepuncher_input(hp, now, addr, f);
    if (count_sent(mark, RP_FRAME_REGISTER_ACK_EXT, addr) != 1)
        return NULL;
    return &sent[mark];
}

/* Whether a Join from CLIENT gets the owner told about it, at owner. */
static bool join_reaches(rp_holepuncher *hp, int64_t now, const ruphin_addr *owner)
{
    int mark = nsent;
    rp_holepuncher_input(hp, now, &CLIENT, join_padded());
    if (count_sent(mark, RP_FRAME_PEER_INFO_EXT, &CLIENT) != 1)
        return false;
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_JOINED);
    return count_sent(mark, RP_FRAME_PEER_INFO_EXT, owner) +
           count_sent(mark, RP_FRAME_PEER_INFO, owner) == 1;
}

static void ext_holepuncher(rp_holepuncher *hp, rp_config *cfg, rp_output *out)
{
    cfg->extensions = true;
    CHECK_EQ(rp_holepuncher_init(hp, cfg, out, 7), RUPHIN_OK);
}

/* A registered, proven session owned by SERVER; returns its token. */
static uint64_t register_owned(rp_holepuncher *hp)
{
    const sent_frame *ack = claim_from(hp, 0, &SERVER, claim(0, probe(hp, 0, &SERVER)));
    CHECK(ack != NULL);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_REGISTERED);
    return ack ? ack->token : 0;
}

/* A generation-1 server for ID, started at 0 (its probe sent). */
static void start_ext_server(rp_server *s, rp_config *cfg, rp_output *out)
{
    cfg->extensions = true;
    rp_server_init(s, cfg, out, &HP, ID, ID_LEN);
    rp_server_start(s, 0);
}

static void test_siphash_reference_vectors(void)
{
    /* From the SipHash paper (appendix A) and its reference test vectors. */
    rp_sipkey key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    uint8_t msg[15];
    int i;
    for (i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    CHECK(rp_siphash(&key, msg, 15) == 0xa129ca6149be45e5ull);
    CHECK(rp_siphash(&key, msg, 0) == 0x726fdb47dd0e0e31ull);
    CHECK(rp_siphash(&key, msg, 8) == 0x93f5f5799a932462ull);
}

static void test_wire_proofs(void)
{
    uint8_t buf[64];
    rp_frame *f;
    CHECK_BYTES(buf, rp_wire_encode_register_proof(buf, sizeof buf, (const uint8_t *)"id", 2, NULL, 0, 1, 2),
                "\x00\x18\x00\x0b\x02id\x00" "\0\0\0\0\0\0\0\x01" "\0\0\0\0\0\0\0\x02");
    f = decoded(buf, 0x18);
    CHECK(f->has_proof && f->token == 1 && f->cookie == 2);
    CHECK_BYTES(buf, rp_wire_encode_register_ack_ext(buf, sizeof buf, (const uint8_t *)"id", 2, 1, 2),
                "\x00\x17\x00\x11\x02id" "\0\0\0\0\0\0\0\x01" "\0\0\0\0\0\0\0\x02");
    f = decoded(buf, 0x17);
    CHECK(f->token == 1 && f->cookie == 2);
    CHECK_BYTES(buf, rp_wire_encode_join_cookie(buf, sizeof buf, (const uint8_t *)"id", 2, NULL, 0, 3),
                "\x00\x10\x00\x0c\x02id\x00" "\0\0\0\0\0\0\0\x03");
    CHECK_EQ(decoded(buf, 0x10)->cookie, 3);
    CHECK_BYTES(buf, rp_wire_encode_unregister(buf, sizeof buf, (const uint8_t *)"id", 2, 5),
                "\x00\x0f\x00\x12\x02id" "\0\0\0\0\0\0\0\x05");
    CHECK_EQ(decoded(buf, 0x0f)->token, 5);
    CHECK_BYTES(buf, rp_wire_encode_capabilities(buf, sizeof buf, 4),
                "\x00\x0d\x00\x0a\x02" "\0\0\0\0\0\0\0\x04");
    CHECK_EQ(decoded(buf, 13)->cookie, 4);
    /* Zero padding reads as no proof: older requests keep their meaning. */
    f = join_padded();
    CHECK_EQ(f->cookie, 0);
    CHECK_EQ(rp_wire_encode_session_ext(buf, sizeof buf, RP_FRAME_REGISTER_EXT, ID, ID_LEN, NULL,
                                        0, 40), 40);
    f = decoded(buf, 40);
    CHECK(f->has_proof && f->token == 0 && f->cookie == 0);
}

static void test_owner_moves_with_its_token(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    const sent_frame *ack;
    uint64_t token, moved_token;
    ext_holepuncher(&hp, &cfg, &out);
    token = register_owned(&hp);
    CHECK(token != 0);
    CHECK(join_reaches(&hp, 10, &SERVER)); /* proven by the cookie of its probe */
    /* The owner's NAT rebinds: its next refresh comes from another port. The
     * token moves the session there; the ack gives the token for it. */
    ack = claim_from(&hp, 1000, &SERVER_REBOUND, claim(token, sent[nsent - 1].cookie));
    CHECK(ack != NULL);
    moved_token = ack ? ack->token : 0;
    CHECK(moved_token != 0 && moved_token != token);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_REGISTERED); /* reported with its new address */
    /* Not proven there yet (its cookie was for the old address): no joins. */
    CHECK(!join_reaches(&hp, 1001, &SERVER_REBOUND));
    CHECK(!join_reaches(&hp, 1001, &SERVER));
    /* The claim with the new token and cookie proves it; clients reach it there. */
    CHECK(claim_from(&hp, 1002, &SERVER_REBOUND, claim(moved_token, ack->cookie)) != NULL);
    CHECK(join_reaches(&hp, 1003, &SERVER_REBOUND));
    CHECK_EQ(count_sent(0, RP_FRAME_PEER_INFO_EXT, &SERVER), 1); /* only the join before the move */
    /* The old token no longer moves it back. */
    CHECK(claim_from(&hp, 1004, &SERVER, claim(token, 0)) == NULL);
    CHECK(join_reaches(&hp, 1005, &SERVER_REBOUND));
    rp_holepuncher_free(&hp);
}

static void test_no_token_no_session(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    uint64_t token;
    int mark;
    ext_holepuncher(&hp, &cfg, &out);
    token = register_owned(&hp);
    mark = nsent;
    /* Another address: a guessed token, none, a plain Register, a RegisterExt. */
    rp_holepuncher_input(&hp, 10, &STRANGER, claim(token ^ 1, probe(&hp, 10, &STRANGER)));
    rp_holepuncher_input(&hp, 10, &STRANGER, claim(0, 0));
    rp_holepuncher_input(&hp, 10, &STRANGER, FRAME("\x00\x09\x00\x02owned"));
    rp_holepuncher_input(&hp, 10, &STRANGER, FRAME("\x00\x0b\x00\x0b\x05owned\x00"));
    CHECK_EQ(stats[RUPHIN_STAT_REGISTER_CONFLICTS], 4);
    CHECK_EQ(nsent, mark + 1); /* only the probe's answer */
    CHECK(join_reaches(&hp, 11, &SERVER));
    /* From the owner's own address, a frame without the token refreshes
     * nothing: a plain Register is a conflict, a wrong token learns the
     * right one (where only the owner receives it). */
    mark = nsent;
    rp_holepuncher_input(&hp, 20000, &SERVER, FRAME("\x00\x09\x00\x02owned"));
    CHECK_EQ(nsent, mark);
    CHECK(claim_from(&hp, 20000, &SERVER, claim(token ^ 1, 0))->token == token);
    CHECK_EQ(stats[RUPHIN_STAT_REGISTER_CONFLICTS], 6);
    /* None of these refreshed it: it expires a lifetime after the claim at 0. */
    rp_holepuncher_tick(&hp, rp_config_silence_limit(&cfg) - 1);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_holepuncher_tick(&hp, rp_config_silence_limit(&cfg));
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_EXPIRED);
    rp_holepuncher_free(&hp);
}

static void test_cookies_prove_joiners(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    uint64_t cookie;
    int64_t window;
    int mark;
    ext_holepuncher(&hp, &cfg, &out);
    register_owned(&hp);
    cookie = probe(&hp, 0, &CLIENT);
    CHECK(cookie != probe(&hp, 0, &STRANGER)); /* one per address */
    CHECK_EQ(probe(&hp, 5, &CLIENT), cookie);  /* and per window */
    /* An unpadded JoinExt (shorter than its answer) with the client's cookie
     * is answered; with another address's cookie, or none, it is refused. */
    mark = nsent;
    rp_holepuncher_input(&hp, 10, &CLIENT, join_cookie(cookie));
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &CLIENT), 1);
    CHECK(sent[nsent - 1].len > join_cookie(cookie)->payload_len + RP_HEADER_LEN);
    mark = nsent;
    rp_holepuncher_input(&hp, 10, &STRANGER, join_cookie(cookie));
    rp_holepuncher_input(&hp, 10, &STRANGER, join_cookie(0));
    CHECK_EQ(nsent, mark);
    CHECK_EQ(stats[RUPHIN_STAT_RX_REFUSED], 2);
    /* A cookie lasts its window and the next one, then it is refused. */
    window = rp_config_silence_limit(&cfg) > 30000 ? rp_config_silence_limit(&cfg) : 30000;
    rp_holepuncher_input(&hp, 2 * window - 1, &SERVER, claim(sent[0].token, 0)); /* keep it alive */
    mark = nsent;
    rp_holepuncher_input(&hp, 2 * window - 1, &CLIENT, join_cookie(cookie));
    CHECK_EQ(count_sent(mark, RP_FRAME_PEER_INFO_EXT, &CLIENT), 1);
    mark = nsent;
    rp_holepuncher_input(&hp, 2 * window, &CLIENT, join_cookie(cookie));
    CHECK_EQ(nsent, mark);
    CHECK(probe(&hp, 2 * window, &CLIENT) != cookie); /* a new window, a new key */
    rp_holepuncher_free(&hp);
}

/* Sessions registered the original way cannot prove their owner's address:
 * joinable in the default mode, not in the strict one. */
static void test_strict_mode_refuses_unproven_owners(void)
{
    int mode;
    for (mode = 1; mode <= 2; mode++) {
        rp_config cfg;
        rp_output out = setup(&cfg);
        rp_holepuncher hp;
        cfg.no_amplification = mode;
        ext_holepuncher(&hp, &cfg, &out);
        rp_holepuncher_input(&hp, 0, &SERVER, FRAME("\x00\x09\x00\x02owned"));
        CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_REGISTERED);
        CHECK_EQ(join_reaches(&hp, 1, &SERVER), mode == 1);
        rp_holepuncher_free(&hp);
    }
}

/* The server: registers with a proof once the holepuncher gave a cookie,
 * keeps the token, and claims again at once when an ack brings a new token
 * (its NAT rebound and the session moved). */
static void test_server_claims_with_its_token(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s;
    int mark;
    start_ext_server(&s, &cfg, &out);
    rp_server_input(&s, 1, &HP, FRAME("\x00\x0d\x00\x0a\x01\0\0\0\0\0\0\0\x09"));
    CHECK_EQ(sent[nsent - 1].type, RP_FRAME_REGISTER_EXT);
    CHECK(sent[nsent - 1].token == 0 && sent[nsent - 1].cookie == 9);
    rp_server_input(&s, 2, &HP, ack_ext(77, 10));
    CHECK_EQ(pop().type, RUPHIN_EVENT_REGISTERED);
    mark = nsent;
    rp_server_tick(&s, cfg.keepalive_ms + 2); /* the refresh carries both */
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER_EXT, &HP), 1);
    CHECK(sent[nsent - 1].token == 77 && sent[nsent - 1].cookie == 10);
    mark = nsent;
    rp_server_input(&s, cfg.keepalive_ms + 3, &HP, ack_ext(78, 11));
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER_EXT, &HP), 1);
    CHECK(sent[nsent - 1].token == 78 && sent[nsent - 1].cookie == 11);
    CHECK_EQ(pop().type, RUPHIN_EVENT_NONE);
    rp_server_free(&s);
}

static rp_frame *unregister(uint64_t token)
{
    static uint8_t buf[64];
    return decoded(buf, rp_wire_encode_unregister(buf, sizeof buf, ID, ID_LEN, token));
}

/* Unregister ends a session at once, given its token, from any address;
 * it is never answered. The server sends it when it stops. */
static void test_unregister_needs_the_token(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    rp_server s;
    uint64_t token;
    int mark;
    ext_holepuncher(&hp, &cfg, &out);
    token = register_owned(&hp);
    mark = nsent;
    rp_holepuncher_input(&hp, 10, &STRANGER, unregister(token ^ 1));
    rp_holepuncher_input(&hp, 10, &SERVER, unregister(0));
    CHECK_EQ(stats[RUPHIN_STAT_REGISTER_CONFLICTS], 2);
    CHECK_EQ(hp.sessions.count, 1);
    rp_holepuncher_input(&hp, 10, &STRANGER, unregister(token));
    CHECK_EQ(hp.sessions.count, 0);
    CHECK_EQ(nsent, mark);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_EXPIRED);
    rp_holepuncher_free(&hp);

    out = setup(&cfg);
    start_ext_server(&s, &cfg, &out);
    mark = nsent;
    rp_server_stop(&s); /* no token yet: nothing to send */
    CHECK_EQ(nsent, mark);
    rp_server_input(&s, 1, &HP, FRAME("\x00\x0d\x00\x0a\x01\0\0\0\0\0\0\0\x09"));
    rp_server_input(&s, 2, &HP, ack_ext(77, 10));
    mark = nsent;
    rp_server_stop(&s);
    CHECK_EQ(count_sent(mark, RP_FRAME_UNREGISTER, &HP), 1);
    CHECK_EQ(sent[nsent - 1].token, 77);
    rp_server_free(&s);
}

/* The client proves its address with the cookie and stops padding. */
static void test_client_joins_with_its_cookie(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_client c;
    cfg.extensions = true;
    rp_client_init(&c, &cfg, &out, &HP, ID, ID_LEN);
    rp_client_start(&c, 0);
    rp_client_input(&c, 1, &HP, FRAME("\x00\x0d\x00\x0a\x01\0\0\0\0\0\0\0\x09"));
    CHECK_EQ(sent[nsent - 1].type, RP_FRAME_JOIN_EXT);
    CHECK_EQ(sent[nsent - 1].cookie, 9);
    CHECK(sent[nsent - 1].len < RP_PEER_INFO_EXT_MAX_REPLY);
}

/* A member of a holepuncher group gives no cookie (its probe may reach
 * another member than the Join, with other keys): its clients pad their
 * Joins, which it answers as before cookies. */
static void test_group_members_give_no_cookie(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_holepuncher hp;
    const sent_frame *ack;
    int mark;
    cfg.workers = 2;
    ext_holepuncher(&hp, &cfg, &out);
    /* The owner's cookie comes with its RegisterAckExt, from the member its
     * id is steered to, like every refresh: it proves itself there. */
    ack = claim_from(&hp, 0, &SERVER, claim(0, 0));
    CHECK(ack != NULL && ack->cookie != 0);
    CHECK_EQ(pop().type, RUPHIN_EVENT_SESSION_REGISTERED);
    CHECK(ack != NULL && claim_from(&hp, 1, &SERVER, claim(ack->token, ack->cookie)) != NULL);
    mark = nsent;
    rp_holepuncher_input(&hp, 0, &CLIENT, FRAME("\x00\x0d\x00\x06\xffruphin/1"));
    CHECK_EQ(count_sent(mark, RP_FRAME_CAPABILITIES, &CLIENT), 1);
    CHECK_EQ(sent[mark].len, RP_HEADER_LEN + 1); /* the version alone */
    CHECK_EQ(sent[mark].cookie, 0);
    CHECK(join_reaches(&hp, 10, &SERVER));
    rp_holepuncher_free(&hp);
}

/* The probe's answer came late, after a plain Register (as to an original
 * holepuncher): the server claims at once, and retransmits the claim until
 * its RegisterAckExt, though the plain Register's ack arrives meanwhile.
 * Until the claim is answered, a strict holepuncher refuses the session's
 * joins (a lost claim used to wait for the next refresh). */
static void test_a_late_claim_is_retransmitted(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s;
    int mark;
    start_ext_server(&s, &cfg, &out);
    RUN_CLOCK(rp_server_tick, &s, 1, cfg.retransmit_ms); /* no answer: a plain Register */
    CHECK_EQ(count_sent(0, RP_FRAME_REGISTER, &HP), 1);
    rp_server_input(&s, 300, &HP, FRAME("\x00\x0d\x00\x0a\x01\0\0\0\0\0\0\0\x09"));
    CHECK(sent[nsent - 1].type == RP_FRAME_REGISTER_EXT && sent[nsent - 1].cookie == 9);
    rp_server_input(&s, 301, &HP, FRAME("\x00\x09\x00\x06owned"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_REGISTERED);
    mark = nsent; /* the claim was lost */
    RUN_CLOCK(rp_server_tick, &s, 302, 300 + cfg.retransmit_ms);
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER_EXT, &HP), 1);
    CHECK(sent[nsent - 1].cookie == 9);
    rp_server_input(&s, 600, &HP, ack_ext(77, 10));
    mark = nsent;
    RUN_CLOCK(rp_server_tick, &s, 601, cfg.keepalive_ms - 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER_EXT, &HP), 0); /* answered: until the refresh */
    rp_server_free(&s);
}

/* Registered the original way after the probe went unanswered twice (lost
 * on a lossy path): the server probes four more times with backoff, so that
 * it can claim its session before a strict holepuncher has refused its
 * joins until the next refresh; an original holepuncher, which never
 * answers, gets only those four. */
static void test_the_probe_is_repeated_after_an_original_registration(void)
{
    rp_config cfg;
    rp_output out = setup(&cfg);
    rp_server s;
    int64_t t0 = cfg.retransmit_ms + 10;
    int mark;
    start_ext_server(&s, &cfg, &out);
    RUN_CLOCK(rp_server_tick, &s, 1, cfg.retransmit_ms); /* probe and Register, probe lost */
    rp_server_input(&s, t0, &HP, FRAME("\x00\x09\x00\x06owned"));
    CHECK_EQ(pop().type, RUPHIN_EVENT_REGISTERED);
    mark = nsent;
    RUN_CLOCK(rp_server_tick, &s, t0 + 1, t0 + cfg.keepalive_ms - 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER_ACK, &HP), 4);
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER, &HP), 0);

    /* Answered at last: the claim goes at once, no more probes. */
    rp_server_free(&s);
    out = setup(&cfg);
    start_ext_server(&s, &cfg, &out);
    RUN_CLOCK(rp_server_tick, &s, 1, cfg.retransmit_ms);
    rp_server_input(&s, t0, &HP, FRAME("\x00\x09\x00\x06owned"));
    RUN_CLOCK(rp_server_tick, &s, t0 + 1, t0 + cfg.retransmit_ms);
    rp_server_input(&s, t0 + cfg.retransmit_ms + 20, &HP,
                    FRAME("\x00\x0d\x00\x0a\x01\0\0\0\0\0\0\0\x09"));
    CHECK(sent[nsent - 1].type == RP_FRAME_REGISTER_EXT && sent[nsent - 1].cookie == 9);
    mark = nsent;
    rp_server_input(&s, t0 + cfg.retransmit_ms + 40, &HP, ack_ext(77, 10));
    RUN_CLOCK(rp_server_tick, &s, t0 + cfg.retransmit_ms + 41, t0 + cfg.keepalive_ms - 1);
    CHECK_EQ(count_sent(mark, RP_FRAME_REGISTER_ACK, &HP), 0);
    rp_server_free(&s);
}

int main(void)
{
    (void)peer_info; /* a harness helper that these tests do not need */
    RUN(test_siphash_reference_vectors);
    RUN(test_wire_proofs);
    RUN(test_owner_moves_with_its_token);
    RUN(test_no_token_no_session);
    RUN(test_cookies_prove_joiners);
    RUN(test_strict_mode_refuses_unproven_owners);
    RUN(test_server_claims_with_its_token);
    RUN(test_a_late_claim_is_retransmitted);
    RUN(test_the_probe_is_repeated_after_an_original_registration);
    RUN(test_client_joins_with_its_cookie);
    RUN(test_unregister_needs_the_token);
    RUN(test_group_members_give_no_cookie);
    return check_report();
}
