/*
 * The protocol state machines of the three roles. Each takes the current
 * time (ms) and datagrams already decoded by the wire codec, sends frames and
 * queues events through its rp_output, and tells its next deadline. None of
 * them owns a socket or reads a clock.
 */
#ifndef RUPHIN_ROLES_H
#define RUPHIN_ROLES_H

#include "machine.h"
#include "ratelimit.h"
#include "seal.h"
#include "sessions.h"
#include "siphash.h"

/* ---- holepuncher ---- */

/* A pair of peers the holepuncher relays for, found by their join's nonce. */
typedef struct rp_relay {
    uint64_t nonce;      /* 0: free */
    ruphin_addr client, server;
    int64_t last_used;
    uint32_t window;     /* the second the byte count belongs to */
    uint32_t bytes;
} rp_relay;

/* The fuzzers build a holepuncher for every input and define fewer. */
#ifndef RP_RELAYS
#define RP_RELAYS 4096
#endif
enum { RP_RELAY_PROBES = 8 };

typedef struct rp_holepuncher {
    rp_config cfg;
    rp_output out;
    rp_sessions sessions;
    rp_ratelimit per_source; /* requests taken from one address */
    rp_ratelimit per_target; /* datagrams sent to one address because of someone else */
    rp_relay *relays;        /* RP_RELAYS slots when relaying is on, else NULL */
    int64_t last_now; /* the latest time passed in */
    /* Ownership and return routability (docs/SECURITY.md): an owner token is
     * a MAC of the session id and the owner's address; a cookie, a MAC of an
     * address under the key of a time window. Nothing is stored per session
     * or per address: both are recomputed to check them. */
    rp_sipkey owner_key;      /* never changes while the holepuncher runs */
    rp_sipkey cookie_keys[2]; /* the current window's, and the one before */
    int64_t cookie_window;    /* the window cookie_keys[0] belongs to; -1: none yet */
    int64_t cookie_from, cookie_until; /* its times: [from, until) needs no rotation */
} rp_holepuncher;

int rp_holepuncher_init(rp_holepuncher *hp, const rp_config *cfg, const rp_output *out,
                        uint64_t seed);
void rp_holepuncher_free(rp_holepuncher *hp);
void rp_holepuncher_input(rp_holepuncher *hp, int64_t now, const ruphin_addr *from,
                          const rp_frame *frame);
/* Announces the session lookup frame will need (rp_sessions_prefetch). */
void rp_holepuncher_prefetch(const rp_holepuncher *hp, rp_frame *frame, int round);
void rp_holepuncher_tick(rp_holepuncher *hp, int64_t now);
int64_t rp_holepuncher_deadline(const rp_holepuncher *hp);

/* ---- server peer ---- */

typedef enum rp_peer_state {
    RP_PEER_ANNOUNCED, /* the holepuncher told us about it; punching */
    RP_PEER_HEARD,     /* it said hello before the holepuncher announced it */
    RP_PEER_CONNECTED
} rp_peer_state;

typedef struct rp_peer {
    ruphin_addr addr;   /* where it is (or, before it is heard, its public address) */
    rp_peer_state state;
    int64_t give_up;    /* ANNOUNCED, HEARD: end of the handshake window */
    int64_t next_hello; /* ANNOUNCED: next punch; CONNECTED: next confirming hello */
    int64_t last_heard; /* CONNECTED */
    /* Generation 1: the join's nonce proves the peer whatever address its
     * hellos come from; its local addresses are punched too. */
    bool ext;
    bool relay_offered;
    bool relayed;        /* connected through the holepuncher's relay */
    uint8_t punches;     /* ANNOUNCED: punches so far, up to RP_LOW_TTL_PUNCHES */
    uint8_t confirms;    /* CONNECTED: hellos left to send until it is heard again */
    rp_scan scan;        /* ANNOUNCED: probing the ports of its public address */
    uint64_t nonce;
    uint64_t old_nonce;  /* the one before a re-join (see rp_client's) */
    uint64_t relay_nonce;/* relayed: the nonce of the client's Relay frames */
    uint8_t local_count;
    ruphin_addr locals[RP_MAX_LOCALS];
    /* Sealed sessions: connected means the seal is ready too. */
    rp_seal seal;
    int64_t next_seal_hello; /* while the seal is not ready */
    /* Path recovery (docs/PROTOCOL.md) */
    rp_watch watch;      /* CONNECTED: is the client still there? */
    bool lost;           /* CONNECTED: its path was lost (PATH_LOST); give_up ends the wait */
    uint64_t conn_nonce; /* the nonce its hellos carry on its path: a resumed join names it */
    ruphin_addr cand;    /* lost: where its resumed join came from (family 0: none yet) */
    int64_t cand_until;  /* lost: punching cand until then */
} rp_peer;

/* Clients of a server, found by address through an open-addressing index. */
typedef struct rp_peer_table {
    rp_peer *items;
    uint32_t count, capacity;
    uint32_t *index; /* item position + 1, 0 = empty slot */
    uint32_t index_mask;
} rp_peer_table;

int rp_peers_init(rp_peer_table *t);
void rp_peers_free(rp_peer_table *t);
rp_peer *rp_peers_find(const rp_peer_table *t, const ruphin_addr *addr);
/* Adds addr (not present); NULL when memory ran out. */
rp_peer *rp_peers_add(rp_peer_table *t, const ruphin_addr *addr);
/* Removes p; the last peer moves into its place. */
void rp_peers_remove(rp_peer_table *t, rp_peer *p);

typedef struct rp_server {
    rp_config cfg;
    rp_output out;
    ruphin_addr holepuncher;
    uint8_t session_id[RUPHIN_MAX_SESSION_ID];
    size_t session_id_len;
    int32_t state;          /* ruphin_state_type */
    rp_retry register_retry;/* REGISTERING, or a refresh awaiting its ack */
    int64_t give_up;        /* first registration: deadline */
    int64_t next_refresh;   /* REGISTERED */
    int64_t last_ack;       /* REGISTERED */
    rp_peer_table peers;
    int64_t peers_deadline; /* earliest timer among peers (may be early) */
    bool hp_ext;            /* the holepuncher answered our probe */
    rp_retry reprobe;       /* registered the original way: the probe again */
    bool reprobed;          /* ... that round of probes was started */
    /* Ownership (docs/SECURITY.md): a holepuncher that gave us a cookie with
     * its Capabilities takes proofs; its acks bring our owner token. */
    uint64_t cookie;        /* the latest cookie for our address; 0: none */
    uint64_t token;         /* our session's owner token; 0: none yet */
    uint8_t local_count;    /* our own local addresses, sent in RegisterExt */
    ruphin_addr locals[RP_MAX_LOCALS];
    uint64_t scanning;      /* the nonce of the one peer whose ports we probe; 0: none */
    int64_t scan_quiet_until; /* no new scan before then (a scan found nobody) */
    int64_t last_now;       /* the latest time passed in (Data sent gets about this time) */
} rp_server;

int rp_server_init(rp_server *s, const rp_config *cfg, const rp_output *out,
                   const ruphin_addr *holepuncher, const uint8_t *id, size_t id_len);
/* Local addresses to register with (the holepuncher tells joiners whether
 * we are behind a NAT). */
void rp_server_set_locals(rp_server *s, const ruphin_addr *locals, size_t count);
void rp_server_free(rp_server *s);
/* Ends the registration: an Unregister with our token, when we have one;
 * connected generation-1 clients are told (HelloExt bye). */
void rp_server_stop(rp_server *s);
void rp_server_start(rp_server *s, int64_t now);
void rp_server_input(rp_server *s, int64_t now, const ruphin_addr *from, const rp_frame *frame);
void rp_server_tick(rp_server *s, int64_t now);
int64_t rp_server_deadline(const rp_server *s);
/* 0, or RUPHIN_ERR_UNKNOWN_PEER when to is not a connected client. */
int rp_server_can_send(const rp_server *s, const ruphin_addr *to);
/* Sends a Data payload to a connected client, directly or through the
 * relay; buf (cap bytes) holds the frame. */
int rp_server_send_data(rp_server *s, const ruphin_addr *to, const uint8_t *data, size_t len,
                        uint8_t *buf, size_t cap);
uint32_t rp_server_connected_count(const rp_server *s);

/* ---- client peer ---- */

typedef struct rp_client {
    rp_config cfg;
    rp_output out;
    ruphin_addr holepuncher;
    ruphin_addr server; /* family 0 until announced */
    /* Generation 1 */
    bool hp_ext;          /* the holepuncher answered our probe */
    bool server_ext;      /* PeerInfoExt said the server speaks it */
    bool relay_offered;   /* PeerInfoExt said the holepuncher relays for us */
    int64_t relay_from;   /* PUNCHING: when to start trying the relay */
    bool low_ttl;         /* PUNCHING: frames to the server with a low TTL ... */
    int64_t low_ttl_until;/* ... until then (0: not chosen) */
    bool scan_confirmed;  /* the relay was offered: the server will scan us */
    uint64_t nonce;       /* from PeerInfoExt; 0 = none yet */
    uint64_t cookie;      /* from Capabilities: proves our address; 0 = none */
    /* The nonce before the latest re-join: each join gets a new one, which
     * the two peers learn at slightly different times (or, when the
     * announcement to one of them is lost, one re-join later); hellos
     * with it still prove the peer. */
    uint64_t old_nonce;
    uint8_t local_count;  /* our own local addresses, sent in JoinExt */
    ruphin_addr locals[RP_MAX_LOCALS];
    uint8_t session_id[RUPHIN_MAX_SESSION_ID];
    size_t session_id_len;
    int32_t state;        /* ruphin_state_type */
    rp_retry join_retry;  /* JOINING, PUNCHING */
    int64_t give_up;      /* JOINING, PUNCHING */
    int64_t next_hello;   /* PUNCHING: next punch; CONNECTED: next keepalive */
    int64_t last_heard;   /* CONNECTED */
    rp_seal seal;           /* sealed sessions */
    int64_t next_seal_hello;/* CONNECTED, RELAYED while the seal is not ready */
    rp_scan scan;         /* PUNCHING: probing the ports of the server's public address */
    /* Path recovery (docs/PROTOCOL.md) */
    uint8_t hp_version;   /* Capabilities' version: RP_RESUME_VERSION takes resumed joins */
    rp_watch watch;       /* CONNECTED, RELAYED: is the server still there? */
    bool recovering;      /* PUNCHING again after PATH_LOST (public state RECOVERING) */
    bool reprobe;         /* recovering: probing for a cookie for our address now */
    uint64_t resume[2];   /* recovering: the nonces the lost connection had */
    ruphin_addr lost_at;  /* recovering: the server's address when the path was lost */
    int64_t last_now;     /* the latest time passed in (Data sent gets about this time) */
} rp_client;

void rp_client_init(rp_client *c, const rp_config *cfg, const rp_output *out,
                    const ruphin_addr *holepuncher, const uint8_t *id, size_t id_len);
/* Local addresses to offer the server (peers behind the same NAT). */
void rp_client_set_locals(rp_client *c, const ruphin_addr *locals, size_t count);
void rp_client_start(rp_client *c, int64_t now);
void rp_client_input(rp_client *c, int64_t now, const ruphin_addr *from, const rp_frame *frame);
void rp_client_tick(rp_client *c, int64_t now);
int64_t rp_client_deadline(const rp_client *c);
/* The state ruphin_state() reports. */
int32_t rp_client_public_state(const rp_client *c);
/* Sends a Data payload to the server, directly or through the relay; while
 * the path is lost, drops it (counted in RUPHIN_STAT_TX_DROPPED). */
int rp_client_send_data(rp_client *c, const uint8_t *data, size_t len, uint8_t *buf, size_t cap);
/* The client closes: a generation-1 server is told (HelloExt bye). */
void rp_client_stop(rp_client *c);

#endif
