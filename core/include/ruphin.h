/*
 * ruphin: UDP hole punching through a rendezvous "holepuncher".
 *
 * This is the one public header of libruphin. Everything in the block between
 * the "ffi-begin" and "ffi-end" markers is plain C declarations with no
 * preprocessor directives, so FFIs (cffi, LuaJIT, cgo, SWIG) can read it as it
 * is; the Python build feeds exactly that block to cffi.
 *
 * A *node* is one of the three roles (holepuncher, server peer, client peer)
 * and owns one UDP socket. Nothing happens on its own: call ruphin_poll()
 * (with a timeout, 0 = do not wait) and it answers protocol messages, retries,
 * sends keepalives and returns at most one event per call. To live in an
 * event loop instead, wait for ruphin_fd() to become readable or for
 * ruphin_timeout_ms() to pass, then call ruphin_poll(node, 0, &ev) until it
 * returns 0.
 *
 * Threading: a node belongs to one thread at a time; only ruphin_wake() may
 * be called from any thread. Different nodes are independent. See
 * docs/API.md for the full contract.
 */
#ifndef RUPHIN_H
#define RUPHIN_H

#include <stddef.h>
#include <stdint.h>

#define RUPHIN_VERSION_MAJOR 0
#define RUPHIN_VERSION_MINOR 1
#define RUPHIN_VERSION_PATCH 0
#define RUPHIN_VERSION_STRING "0.1.0"

#if defined(_WIN32) && defined(RUPHIN_SHARED)
#  if defined(RUPHIN_BUILDING)
#    define RUPHIN_API __declspec(dllexport)
#  else
#    define RUPHIN_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define RUPHIN_API __attribute__((visibility("default")))
#else
#  define RUPHIN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ffi-begin */

/* Error codes: every function that can fail returns one (always < 0). */
typedef enum ruphin_error {
    RUPHIN_OK = 0,
    RUPHIN_ERR_INVALID = -1,           /* invalid argument */
    RUPHIN_ERR_NOMEM = -2,             /* out of memory */
    RUPHIN_ERR_ADDRESS = -3,           /* address could not be parsed or resolved */
    RUPHIN_ERR_SOCKET = -4,            /* the OS refused to create or set up the socket */
    RUPHIN_ERR_ADDR_IN_USE = -5,       /* the local address is already in use */
    RUPHIN_ERR_ADDR_NOT_AVAILABLE = -6,/* the local address is not on this host */
    RUPHIN_ERR_PERMISSION = -7,        /* the OS denied the operation */
    RUPHIN_ERR_TOO_LARGE = -8,         /* payload larger than the node's max payload */
    RUPHIN_ERR_NOT_CONNECTED = -9,     /* client: its server is not known yet (or any more) */
    RUPHIN_ERR_UNKNOWN_PEER = -10,     /* server: no connected client has that address */
    RUPHIN_ERR_WOULD_BLOCK = -11,      /* the socket's send buffer is full; try again */
    RUPHIN_ERR_IO = -12,               /* the OS failed to send or receive */
    RUPHIN_ERR_TIMEOUT = -13,          /* the holepuncher or the peer did not answer in time */
    RUPHIN_ERR_SESSION_NOT_FOUND = -14,/* the holepuncher has no such session */
    RUPHIN_ERR_PEER_LOST = -15,        /* the peer went silent for too long */
    RUPHIN_ERR_NOT_SUPPORTED = -16,    /* this role does not do that */
    RUPHIN_ERR_FAILED = -17,           /* the node failed earlier (see its FAILED event) */
    RUPHIN_ERR_BUFFER = -18,           /* the caller's buffer is too small */
    RUPHIN_ERR_ADDRESS_FAMILY = -19,   /* IPv4 and IPv6 mixed where they cannot be */
    RUPHIN_ERR_STOPPED = -20,          /* the runner has stopped and handed out every event */
    RUPHIN_ERR_AUTH = -21              /* sealed session: the peer did not prove it holds the key */
} ruphin_error;

/* The three roles. */
typedef enum ruphin_role_type {
    RUPHIN_ROLE_HOLEPUNCHER = 1,
    RUPHIN_ROLE_SERVER = 2,
    RUPHIN_ROLE_CLIENT = 3
} ruphin_role_type;

/* What ruphin_poll() reports. */
typedef enum ruphin_event_type {
    RUPHIN_EVENT_NONE = 0,
    RUPHIN_EVENT_DATA = 1,               /* server, client: a datagram from a connected peer */
    RUPHIN_EVENT_CONNECTED = 2,          /* client: handshake with the server done;
                                            server: a client completed the handshake */
    RUPHIN_EVENT_DISCONNECTED = 3,       /* server: a client went silent and was forgotten */
    RUPHIN_EVENT_REGISTERED = 4,         /* server: the holepuncher acknowledged the session */
    RUPHIN_EVENT_REGISTRATION_LOST = 5,  /* server: refreshes went unanswered; re-registering */
    RUPHIN_EVENT_PUNCH_FAILED = 6,       /* server: an announced client never answered */
    RUPHIN_EVENT_FAILED = 7,             /* server, client: terminal failure, see error */
    RUPHIN_EVENT_WAKE = 8,               /* any: ruphin_wake() was called */
    RUPHIN_EVENT_SESSION_REGISTERED = 9, /* holepuncher: a new session (data = its id) */
    RUPHIN_EVENT_SESSION_EXPIRED = 10,   /* holepuncher: a session expired, or its owner ended
                                            it (data = its id) */
    RUPHIN_EVENT_SESSION_JOINED = 11,    /* holepuncher: a client joined (data = id, peer = client) */
    RUPHIN_EVENT_PEER_ANNOUNCED = 12,    /* server: the holepuncher announced a client; punching.
                                            client: it announced the server; punching, and
                                            ruphin_send may already be used (early data) */
    RUPHIN_EVENT_RELAYED = 13,           /* server, client: no direct path was found; connected
                                            through the holepuncher's relay instead (a later
                                            direct hello upgrades it: CONNECTED) */
    RUPHIN_EVENT_PATH_LOST = 14,         /* server, client (generation 1): the path to a connected
                                            peer stopped working (peer = its address); finding it
                                            again by itself; Data to it is dropped and counted
                                            (RUPHIN_STAT_TX_DROPPED) until PATH_RESTORED, or
                                            DISCONNECTED / FAILED (PEER_LOST) once
                                            RUPHIN_OPT_RECOVERY_TIMEOUT_MS passed */
    RUPHIN_EVENT_PATH_RESTORED = 15      /* server, client: the peer proved itself again (its
                                            join's nonce), peer = its address now; if that
                                            changed, data points to the previous one, a
                                            ruphin_addr (len = sizeof(ruphin_addr)), else len 0 */
} ruphin_event_type;

/* Client and server states, from ruphin_state(). */
typedef enum ruphin_state_type {
    RUPHIN_STATE_IDLE = 0,        /* not started: no poll yet */
    RUPHIN_STATE_REGISTERING = 1, /* server: waiting for RegisterAck */
    RUPHIN_STATE_REGISTERED = 2,  /* server: session live at the holepuncher */
    RUPHIN_STATE_JOINING = 3,     /* client: waiting for PeerInfo */
    RUPHIN_STATE_PUNCHING = 4,    /* client: exchanging HelloReq with the server */
    RUPHIN_STATE_CONNECTED = 5,   /* client: connected */
    RUPHIN_STATE_FAILED = 6,      /* server, client: terminal failure */
    RUPHIN_STATE_SERVING = 7,     /* holepuncher */
    RUPHIN_STATE_RELAYED = 8,     /* client: connected through the holepuncher's relay */
    RUPHIN_STATE_RECOVERING = 9   /* client: the path was lost (PATH_LOST); re-joining and
                                     punching until PATH_RESTORED or FAILED */
} ruphin_state_type;

/* Tunables, set on a ruphin_options before creating a node (all times in ms). */
typedef enum ruphin_option {
    RUPHIN_OPT_KEEPALIVE_MS = 1,          /* server refresh / client keepalive / expected refresh
                                             at the holepuncher (default 10000) */
    RUPHIN_OPT_MISSED_KEEPALIVES = 2,     /* keepalives missed before a session, registration or
                                             peer counts as gone (default 3) */
    RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS = 3,  /* registration, join + punch, and per-client punching
                                             give up after this (default 10000) */
    RUPHIN_OPT_RETRANSMIT_MS = 4,         /* first retransmission of Register/Join (default 250) */
    RUPHIN_OPT_RETRANSMIT_MAX_MS = 5,     /* backoff doubles up to this (default 2000) */
    RUPHIN_OPT_PUNCH_INTERVAL_MS = 6,     /* pace of HelloReq while punching (default 100) */
    RUPHIN_OPT_MAX_SESSIONS = 7,          /* holepuncher: session table bound (default 1000000) */
    RUPHIN_OPT_MAX_PEERS = 8,             /* server: clients tracked at once (default 4096) */
    RUPHIN_OPT_MAX_PAYLOAD = 9,           /* largest Data payload sent (default 1024, as the original;
                                             up to 65503 between ruphin-C peers); holepuncher:
                                             largest it relays */
    RUPHIN_OPT_ACCEPT_UNVERIFIED = 10,    /* 1: deliver Data from peers that did not complete
                                             the handshake (default 0) */
    RUPHIN_OPT_ALLOW_INTERRUPT = 11,      /* 1: a LocalInterrupt from loopback wakes poll (default 1) */
    RUPHIN_OPT_SOCKET_BUFFER = 12,        /* SO_RCVBUF/SO_SNDBUF in bytes, 0 = OS default (default 0) */
    RUPHIN_OPT_EXTENSIONS = 13,           /* 1: speak protocol generation 1 (LAN addresses, address
                                             adoption) with peers that show they do; 0: only the
                                             original generation 0 (default 1) */
    RUPHIN_OPT_RATE_LIMIT = 14,           /* holepuncher: requests per second taken from one source
                                             address, and datagrams per second sent to one address
                                             on others' behalf (default 200; 0 = no limit) */
    RUPHIN_OPT_NO_AMPLIFICATION = 15,     /* holepuncher: 2 (default) drops a request whose answer
                                             would be larger than the request unless its sender
                                             proved its address, and joins of a session whose owner
                                             has not proven its own (original servers cannot);
                                             1: the same, but original servers' sessions may be
                                             joined; 0 = off (docs/SECURITY.md) */
    RUPHIN_OPT_RELAY_RATE = 16,           /* holepuncher: bytes per second it relays for one pair
                                             of peers that cannot punch (default 0: no relay);
                                             peers: ms of punching before they try the relay
                                             (default 0: a third of the handshake timeout) */
    RUPHIN_OPT_WORKERS = 17,              /* holepuncher (Linux): size of a group of holepunchers
                                             sharing one port (SO_REUSEPORT), one per thread or
                                             process; the kernel hands each the sessions whose id
                                             it steers to it, so they share nothing (default 1:
                                             alone; docs/PERFORMANCE.md). Members give no cookies,
                                             so a group needs NO_AMPLIFICATION 1 or 0 (with 2,
                                             creating one fails: RUPHIN_ERR_INVALID) */
    RUPHIN_OPT_WORKER = 18,               /* holepuncher in a group: its index, 0 .. WORKERS - 1;
                                             create them in index order on one address, worker 0
                                             first (default 0) */
    RUPHIN_OPT_SESSION_EVENTS = 19,       /* holepuncher: 1 (default) reports SESSION_REGISTERED,
                                             SESSION_JOINED and SESSION_EXPIRED; 0 reports none,
                                             for a holepuncher whose owner reads none (about 5 %
                                             of the CPU of a Register at a steady population;
                                             docs/PERFORMANCE.md) */
    RUPHIN_OPT_RECOVERY_TIMEOUT_MS = 20   /* server, client: how long a lost path to a generation-1
                                             peer is looked for (PATH_LOST .. PATH_RESTORED) before
                                             the peer counts as gone (default 30000; 0: no
                                             recovery, a silent peer is lost after the silence
                                             limit, as before; docs/PROTOCOL.md) */
} ruphin_option;

/* Counters, from ruphin_stat(). */
typedef enum ruphin_stat_id {
    RUPHIN_STAT_RX_DATAGRAMS = 0,      /* datagrams received */
    RUPHIN_STAT_TX_DATAGRAMS = 1,      /* datagrams sent */
    RUPHIN_STAT_RX_MALFORMED = 2,      /* dropped: not a well-formed frame */
    RUPHIN_STAT_RX_UNEXPECTED = 3,     /* dropped: well-formed, but from a source or in a state
                                          that has no business sending it */
    RUPHIN_STAT_TX_FAILED = 4,         /* sends the OS refused (buffer full, unreachable) */
    RUPHIN_STAT_EVENTS_DROPPED = 5,    /* events lost because the queue was full */
    RUPHIN_STAT_SESSIONS = 6,          /* holepuncher: live sessions */
    RUPHIN_STAT_SESSIONS_REFUSED = 7,  /* holepuncher: Registers refused, table full */
    RUPHIN_STAT_REGISTER_CONFLICTS = 8,/* holepuncher: Registers of a live id from another owner */
    RUPHIN_STAT_PEERS = 9,             /* server: clients connected; client: 1 when connected */
    RUPHIN_STAT_RX_REFUSED = 10,       /* holepuncher: requests dropped by the rate limit or the
                                          no-amplification rule */
    RUPHIN_STAT_RX_REJECTED = 11,      /* server, client with a key: dropped because forged,
                                          tampered with, replayed, for an earlier connection,
                                          or not sealed */
    RUPHIN_STAT_TX_DROPPED = 12,       /* server, client: Data not sent because the path to the
                                          peer was lost (between PATH_LOST and PATH_RESTORED) */
    /* Holepuncher: requests taken (past the per-source rate limit), by type. */
    RUPHIN_STAT_REQUESTS_REGISTER = 13,   /* Register, RegisterExt (refreshes and claims too) */
    RUPHIN_STAT_REQUESTS_JOIN = 14,       /* Join, JoinExt, join probes */
    RUPHIN_STAT_REQUESTS_HELLO = 15,      /* HelloReq */
    RUPHIN_STAT_REQUESTS_PROBE = 16,      /* capability probes (cookies) */
    RUPHIN_STAT_REQUESTS_UNREGISTER = 17, /* Unregister */
    RUPHIN_STAT_REQUESTS_RELAY = 18,      /* Relay frames */
    /* Holepuncher: RUPHIN_STAT_RX_REFUSED by reason (they add up to it). */
    RUPHIN_STAT_REFUSED_RATE_LIMIT = 19,  /* over a source's, or a Join's owner's, rate limit */
    RUPHIN_STAT_REFUSED_AMPLIFICATION = 20,/* the answer would be larger than an unproven
                                             request (the no-amplification rule) */
    RUPHIN_STAT_REFUSED_UNPROVEN_OWNER = 21,/* Joins of a session whose owner has not proven its
                                             address (original servers cannot; mode 2) */
    RUPHIN_STAT_REFUSED_RELAY_BUDGET = 22,/* Relay frames over their pair's bytes per second */
    RUPHIN_STAT_RELAYED_BYTES = 23,       /* holepuncher: bytes of Relay frames forwarded */
    RUPHIN_STAT_RELAY_PAIRS = 24,         /* holepuncher: pairs of peers offered the relay */
    RUPHIN_STAT_COUNT = 25
} ruphin_stat_id;

enum {
    RUPHIN_NO_DEADLINE = -1,    /* ruphin_deadline(): nothing scheduled */
    RUPHIN_WAIT_FOREVER = -1,   /* ruphin_poll() timeout: wait until an event */
    RUPHIN_MAX_SESSION_ID = 20, /* bytes */
    RUPHIN_MAX_PAYLOAD_LIMIT = 65503,
    RUPHIN_DEFAULT_PORT = 47470,
    RUPHIN_ADDRSTRLEN = 64,     /* enough for "[v6%scope]:port" and the NUL */
    RUPHIN_KEY_LEN = 32,        /* bytes of a session key (ruphin_options_set_key) */
    RUPHIN_SEAL_OVERHEAD = 41,  /* bytes a sealed Data datagram adds to its payload */
    RUPHIN_POLL_BATCH_MAX = 64  /* events one ruphin_poll_batch() hands out at most */
};

/* A UDP address: IPv4 (family 4, ip[0..3]) or IPv6 (family 6), port in host
 * order. Plain data: copy it, compare it with ruphin_addr_equal(). */
typedef struct ruphin_addr {
    uint8_t family;     /* 4, 6, or 0 for none */
    uint8_t reserved;
    uint16_t port;
    uint32_t scope_id;  /* IPv6 link-local scope, else 0 */
    uint8_t ip[16];
} ruphin_addr;

/* One event. data points into the node and stays valid until the next call
 * on that node; copy it to keep it. */
typedef struct ruphin_event {
    int32_t type;       /* ruphin_event_type */
    int32_t error;      /* RUPHIN_EVENT_FAILED: why; else 0 */
    ruphin_addr peer;   /* the peer concerned, if any (family 0 otherwise) */
    const uint8_t *data;/* DATA: payload; SESSION_*: the session id */
    size_t len;
} ruphin_event;

typedef struct ruphin_options ruphin_options;
typedef struct ruphin_node ruphin_node;
typedef struct ruphin_runner ruphin_runner;

/* Library. */
RUPHIN_API const char *ruphin_version(void);         /* "MAJOR.MINOR.PATCH" */
RUPHIN_API int32_t ruphin_version_number(void);      /* MAJOR*10000 + MINOR*100 + PATCH */
RUPHIN_API const char *ruphin_strerror(int32_t error); /* never NULL */
RUPHIN_API const char *ruphin_event_name(int32_t type); /* "DATA", ...; never NULL */
RUPHIN_API int64_t ruphin_now(void);                 /* the monotonic clock of deadlines, ms */

/* Addresses. parse takes numeric "1.2.3.4:5", "[::1]:5"; resolve also takes
 * host names (it may block on DNS). default_port applies when ":PORT" is
 * missing (0 = port required). format writes "1.2.3.4:5" or "[::1]:5". */
RUPHIN_API int32_t ruphin_addr_parse(const char *text, uint16_t default_port, ruphin_addr *out);
RUPHIN_API int32_t ruphin_addr_resolve(const char *text, uint16_t default_port, ruphin_addr *out);
RUPHIN_API int32_t ruphin_addr_format(const ruphin_addr *addr, char *buf, size_t size);
RUPHIN_API int32_t ruphin_addr_equal(const ruphin_addr *a, const ruphin_addr *b);

/* Options: NULL wherever an options pointer is taken means all defaults. */
RUPHIN_API int32_t ruphin_options_new(ruphin_options **out);
RUPHIN_API void ruphin_options_free(ruphin_options *options);
RUPHIN_API int32_t ruphin_options_set(ruphin_options *options, int32_t option, int64_t value);
RUPHIN_API int32_t ruphin_options_get(const ruphin_options *options, int32_t option, int64_t *value);

/* Sealed sessions (docs/SECURITY.md): a server and clients whose options
 * carry the same RUPHIN_KEY_LEN-byte key seal their Data end to end
 * (authenticated encryption, replay protection). They report CONNECTED only
 * once the peer proved it holds the key (else PUNCH_FAILED on the server,
 * FAILED on the client, with RUPHIN_ERR_AUTH), and drop whatever is not
 * sealed with it (RUPHIN_STAT_RX_REJECTED). Early data is not sealed, so
 * ruphin_send waits for CONNECTED. A holepuncher ignores the key.
 * set_key: key NULL and len 0 removes it; RUPHIN_ERR_NOT_SUPPORTED when
 * this build has no libsodium (ruphin_seal_supported() == 0).
 * key_generate: fills key (len RUPHIN_KEY_LEN) with random bytes. */
RUPHIN_API int32_t ruphin_seal_supported(void);
RUPHIN_API int32_t ruphin_options_set_key(ruphin_options *options, const uint8_t *key, size_t len);
RUPHIN_API int32_t ruphin_key_generate(uint8_t *key, size_t len);

/* Nodes. bind is "ADDR:PORT" to listen on (NULL: the wildcard address of the
 * holepuncher's family, a random port). Host names in holepuncher are
 * resolved here and may block. The session id is 0..20 arbitrary bytes.
 * Creating a node sends nothing; the first ruphin_poll() starts it. */
RUPHIN_API int32_t ruphin_holepuncher_new(ruphin_node **out, const char *bind,
                                          const ruphin_options *options);
RUPHIN_API int32_t ruphin_server_new(ruphin_node **out, const char *holepuncher,
                                     const uint8_t *session_id, size_t session_id_len,
                                     const char *bind, const ruphin_options *options);
RUPHIN_API int32_t ruphin_client_new(ruphin_node **out, const char *holepuncher,
                                     const uint8_t *session_id, size_t session_id_len,
                                     const char *bind, const ruphin_options *options);
/* NULL is fine. A server that holds its owner token ends its session at the
 * holepuncher first (an Unregister, docs/PROTOCOL.md). Generation-1 peers
 * tell the other side they close (a HelloExt bye): a server reports such a
 * client DISCONNECTED at once, a client of such a server FAILED (PEER_LOST). */
RUPHIN_API void ruphin_close(ruphin_node *node);

/* Runs the protocol for up to timeout_ms (0: do not wait, RUPHIN_WAIT_FOREVER).
 * Returns 1 with *event filled, 0 when the time passed with nothing to
 * report, or an error. */
RUPHIN_API int32_t ruphin_poll(ruphin_node *node, int32_t timeout_ms, ruphin_event *event);

/* Sends a Data datagram. Client: to is NULL or its server, once the server
 * was announced (PEER_ANNOUNCED: early data, which reaches the server if the
 * punch already opened the path) or connected. Server: to is a connected
 * client. Holepuncher: RUPHIN_ERR_NOT_SUPPORTED. While the path to the peer
 * is lost (after PATH_LOST, until PATH_RESTORED) the datagram is dropped,
 * counted in RUPHIN_STAT_TX_DROPPED, and RUPHIN_OK returned. */
RUPHIN_API int32_t ruphin_send(ruphin_node *node, const ruphin_addr *to,
                               const uint8_t *data, size_t len);

/* The data path in bulk (docs/API.md, "Batches"): what a loop of
 * ruphin_poll or ruphin_send does, with one call and as few system calls as
 * the OS allows (recvmmsg/sendmmsg on Linux).
 * poll_batch: ruphin_poll for up to max events (at most
 * RUPHIN_POLL_BATCH_MAX): it waits up to timeout_ms for the first, then adds
 * those ready without waiting; returns how many were written to events (0
 * when the time passed with none), or an error. Every event's data stays
 * valid until the next call on the node.
 * send_batch: count Data datagrams to one destination (to as in
 * ruphin_send), datagram i being the next lens[i] bytes of data (the
 * payloads back to back). Each is checked and sent as by ruphin_send, in
 * order; the first that fails stops the batch. Returns RUPHIN_OK when all
 * went out, else the error of datagram *sent; *sent (NULL is fine) says how
 * many went out. */
RUPHIN_API int32_t ruphin_poll_batch(ruphin_node *node, int32_t timeout_ms, ruphin_event *events,
                                     int32_t max);
RUPHIN_API int32_t ruphin_send_batch(ruphin_node *node, const ruphin_addr *to,
                                     const uint8_t *data, const size_t *lens, size_t count,
                                     size_t *sent);

/* Makes a ruphin_poll() that is waiting in another thread return a
 * RUPHIN_EVENT_WAKE soon (or the next one, if none is waiting). The only
 * function that is safe from any thread. */
RUPHIN_API int32_t ruphin_wake(ruphin_node *node);

/* For event loops. */
RUPHIN_API int64_t ruphin_fd(const ruphin_node *node);        /* the socket descriptor */
RUPHIN_API int64_t ruphin_deadline(const ruphin_node *node);  /* ruphin_now() ms or RUPHIN_NO_DEADLINE */
RUPHIN_API int32_t ruphin_timeout_ms(const ruphin_node *node);/* ms until the deadline (>= 0) or -1 */

/* Introspection. */
RUPHIN_API int32_t ruphin_role(const ruphin_node *node);
RUPHIN_API int32_t ruphin_state(const ruphin_node *node);
RUPHIN_API int32_t ruphin_local_addr(const ruphin_node *node, ruphin_addr *out);
RUPHIN_API int32_t ruphin_peer_addr(const ruphin_node *node, ruphin_addr *out); /* client: its server */
RUPHIN_API int64_t ruphin_stat(const ruphin_node *node, int32_t stat);

/* Active mode: a runner drives a node from its own thread, so the caller
 * never polls. Every function below is safe from any thread, except that
 * only one thread at a time may call ruphin_runner_next.
 * start: the node belongs to the runner until ruphin_runner_stop returns;
 * do not call other functions on it meanwhile (ruphin_wake excepted).
 * RUPHIN_ERR_NOT_SUPPORTED when the node's RUPHIN_OPT_ALLOW_INTERRUPT is 0
 * (sends and stop reach the runner thread through ruphin_wake).
 * next: waits up to timeout_ms for the next event (data copied, valid until
 * the next call of next); 1, 0 on timeout, RUPHIN_ERR_STOPPED once the
 * runner stopped (or its node failed) and every event was handed out.
 * Events wait in a bounded queue; while it is full the runner stops reading
 * the socket, so no event is ever dropped. WAKE events are not reported.
 * send: queues a Data datagram for the runner thread to send;
 * RUPHIN_ERR_WOULD_BLOCK when the send queue is full; errors found later
 * (not connected, unknown peer) count in RUPHIN_STAT_TX_FAILED.
 * stop: ends the thread promptly; undelivered events stay for next, sends
 * queued before it still go out. Calls after the first touch no node.
 * free: stops, then frees the runner (not the node: ruphin_close it). */
RUPHIN_API int32_t ruphin_runner_start(ruphin_runner **out, ruphin_node *node);
RUPHIN_API int32_t ruphin_runner_next(ruphin_runner *runner, int32_t timeout_ms,
                                      ruphin_event *event);
RUPHIN_API int32_t ruphin_runner_send(ruphin_runner *runner, const ruphin_addr *to,
                                      const uint8_t *data, size_t len);
RUPHIN_API void ruphin_runner_stop(ruphin_runner *runner);
RUPHIN_API void ruphin_runner_free(ruphin_runner *runner);

/* ffi-end */

#ifdef __cplusplus
}
#endif

#endif /* RUPHIN_H */
