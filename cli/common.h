/* What the subcommands of the ruphin program share. Uses only ruphin.h. */
#ifndef RUPHIN_CLI_COMMON_H
#define RUPHIN_CLI_COMMON_H

#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ruphin.h"

enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1, /* timeout, session not found, socket error */
    EXIT_USAGE = 2
};

/* OS glue (platform.c). cli_stop is set by SIGINT/SIGTERM, or on Windows
 * by Ctrl-C, Ctrl-Break or closing the console. */
extern atomic_int cli_stop;
void cli_handle_signals(void);
/* Makes sure a closed standard descriptor is not reused by a socket. */
bool cli_standard_fds_open(void);
/* Prepares standard input for cli_wait (false if it cannot be). */
bool cli_stdin_start(void);
/* Reads what standard input has (at least one byte waits, or its end):
 * bytes read (1 to len), 0 at its end, -1 on error. */
long cli_stdin_read(char *buf, size_t len);

extern bool cli_verbose;
/* Logs a line on stderr, prefixed with the time since cli_log_start(). */
void cli_log_start(void);
void cli_log(const char *fmt, ...);
/* Logs "what: message" for an error code and returns EXIT_RUNTIME. */
int cli_fail(const char *what, int32_t error);

/* Formats an address into a static buffer (one at a time). */
const char *cli_addr(const ruphin_addr *a);
/* Bytes from the network (a session id) as printable text, other bytes as
 * \xNN, in a static buffer (one at a time), so a log cannot be forged. */
const char *cli_text(const uint8_t *data, size_t len);

/* Tunables shared by all roles, as long options (see CLI_TUNABLE_OPTIONS). */
typedef struct cli_tunables {
    ruphin_options *options;
} cli_tunables;

/* What the steps of a command return when it should go on (else an exit code). */
enum { CLI_GO_ON = -1 };

/* Creates the options (CLI_GO_ON, or EXIT_RUNTIME after saying why). */
int cli_tunables_init(cli_tunables *t);
void cli_tunables_free(cli_tunables *t);

/* Handles one option of a command: 1 if taken, -1 for a bad value (after
 * saying why in one line), anything else for an option it does not know. */
typedef int (*cli_option_fn)(void *ctx, int opt, const char *arg);

/* Parses a command's arguments with getopt_long, giving each option to
 * take(); -h/--help prints help. Returns CLI_GO_ON, or the exit code: EXIT_OK
 * after the help, EXIT_USAGE (with the help on stderr) for bad usage. */
int cli_parse(int argc, char **argv, const char *shortopts, const struct option *longopts,
              const char *help, cli_option_fn take, void *ctx);

enum {
    OPT_KEEPALIVE = 1000,
    OPT_MISSED,
    OPT_HANDSHAKE,
    OPT_MAX_SESSIONS,
    OPT_MAX_PAYLOAD,
    OPT_GEN0,
    OPT_RATE_LIMIT,
    OPT_RELAY_RATE,
    OPT_NO_AMPLIFICATION,
    OPT_WORKERS,
    OPT_RETRANSMIT,
    OPT_RETRANSMIT_MAX,
    OPT_PUNCH_INTERVAL,
    OPT_SOCKET_BUFFER,
    OPT_NO_LOCAL_INTERRUPT,
    OPT_KEY_FILE,
    OPT_RELAY_AFTER,
    OPT_ACCEPT_UNVERIFIED,
    OPT_MAX_PEERS,
    OPT_RECOVERY
};

#define CLI_TUNABLE_OPTIONS                                                     \
    {"keepalive-ms", required_argument, 0, OPT_KEEPALIVE},                      \
    {"missed-keepalives", required_argument, 0, OPT_MISSED},                    \
    {"handshake-timeout-ms", required_argument, 0, OPT_HANDSHAKE},              \
    {"max-payload", required_argument, 0, OPT_MAX_PAYLOAD},                     \
    {"protocol-0", no_argument, 0, OPT_GEN0},                                   \
    {"retransmit-ms", required_argument, 0, OPT_RETRANSMIT},                    \
    {"retransmit-max-ms", required_argument, 0, OPT_RETRANSMIT_MAX},            \
    {"punch-interval-ms", required_argument, 0, OPT_PUNCH_INTERVAL},            \
    {"socket-buffer", required_argument, 0, OPT_SOCKET_BUFFER},                 \
    {"no-local-interrupt", no_argument, 0, OPT_NO_LOCAL_INTERRUPT},             \
    {"verbose", no_argument, 0, 'v'}

#define CLI_TUNABLE_HELP                                                        \
    "  --keepalive-ms MS            refresh/keepalive interval (default 10000)\n" \
    "  --missed-keepalives N        missed keepalives before giving up (default 3)\n" \
    "  --handshake-timeout-ms MS    give up registering/joining/punching after this\n" \
    "  --max-payload BYTES          largest datagram payload (default 1024)\n"    \
    "  --protocol-0                 speak only the original protocol generation\n" \
    "  --retransmit-ms MS           first retransmission of a request (default 250)\n" \
    "  --retransmit-max-ms MS       retransmissions back off up to this (default 2000)\n" \
    "  --punch-interval-ms MS       pace of hellos while punching (default 100)\n" \
    "  --socket-buffer BYTES        socket send and receive buffers (default: the OS's)\n" \
    "  --no-local-interrupt         ignore LocalInterrupt frames from loopback\n" \
    "  -v, --verbose                log more on stderr\n"

/* Handles one tunable option; returns 1 if it was one, 0 if not, -1 on a
 * bad value (after printing why). */
int cli_tunable(cli_tunables *t, int opt, const char *arg);

/* Parses a non-negative integer option value; -1 when it is not one. */
long long cli_number(const char *text);

/* Waits on the nodes' sockets (and standard input when watch_stdin) until
 * one is readable or the nodes' next deadline, at most max_ms (-1: no
 * bound). Returns true when standard input has something (or its end). */
bool cli_wait(ruphin_node *const *nodes, int count, bool watch_stdin, int max_ms);

/* The arguments server and client share. */
typedef struct peer_args {
    const char *holepuncher;
    const char *session;
    const char *bind;
    cli_tunables tunables;
} peer_args;

enum { OPT_HOLEPUNCHER = 'H', OPT_SESSION = 's', OPT_BIND = 'b' };

#define PEER_OPTIONS                                                             \
    {"holepuncher", required_argument, 0, OPT_HOLEPUNCHER},                      \
    {"session", required_argument, 0, OPT_SESSION},                              \
    {"bind", required_argument, 0, OPT_BIND},                                    \
    {"key-file", required_argument, 0, OPT_KEY_FILE},                            \
    {"relay-after-ms", required_argument, 0, OPT_RELAY_AFTER},                   \
    {"accept-unverified", no_argument, 0, OPT_ACCEPT_UNVERIFIED},                \
    {"recovery-timeout-ms", required_argument, 0, OPT_RECOVERY}

#define PEER_HELP                                                                \
    "  -H, --holepuncher HOST:PORT  the holepuncher (port defaults to 47470)\n"  \
    "  -s, --session ID             the session id (up to 20 bytes)\n"          \
    "  -b, --bind ADDR:PORT         local address (default: any, random port)\n" \
    "  --key-file FILE              seal the session with this key (ruphin keygen\n" \
    "                               writes one; the other side needs the same)\n" \
    "  --relay-after-ms MS          punch this long before trying the holepuncher's\n" \
    "                               relay (default: a third of the handshake timeout)\n" \
    "  --accept-unverified          take Data from peers that did not finish the\n" \
    "                               handshake (default: drop it)\n"              \
    "  --recovery-timeout-ms MS     look this long for a lost path to the peer\n" \
    "                               (its NAT rebound, it moved) before giving up\n" \
    "                               (default 30000; 0: give up at once, as before)\n"

/* Handles a shared option; 1 if it was one, 0 if not, -1 on a bad value. */
int peer_arg(peer_args *a, int opt, const char *arg);

/* Reads a key file as `ruphin keygen` writes it (64 hex digits and a line
 * end) into key; false after saying why not (keyfile.c). */
bool cli_key_read(const char *path, uint8_t key[RUPHIN_KEY_LEN]);
/* Creates a new file that only its owner can read (never replaces one);
 * NULL with errno set when it cannot (platform.c). */
FILE *cli_create_private(const char *path);
/* Checks the required arguments and creates the node (role: server or
 * client); returns CLI_GO_ON, or the exit code after saying why. */
int peer_open(peer_args *a, int32_t role, ruphin_node **out, const char *help);

int cmd_holepuncher(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_keygen(int argc, char **argv);

#endif
