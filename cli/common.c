/* Helpers shared by the subcommands. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_verbose;

static int64_t log_start = -1;

void cli_log_start(void)
{
    log_start = ruphin_now();
}

void cli_log(const char *fmt, ...)
{
    va_list ap;
    int64_t start = log_start < 0 ? ruphin_now() : log_start;
    fprintf(stderr, "[%7.3f] ", (double)(ruphin_now() - start) / 1000.0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_fail(const char *what, int32_t error)
{
    fprintf(stderr, "ruphin: %s: %s\n", what, ruphin_strerror(error));
    return EXIT_RUNTIME;
}

const char *cli_addr(const ruphin_addr *a)
{
    static char buf[RUPHIN_ADDRSTRLEN];
    if (ruphin_addr_format(a, buf, sizeof buf) < 0)
        strcpy(buf, "-");
    return buf;
}

const char *cli_text(const uint8_t *data, size_t len)
{
    static char buf[4 * RUPHIN_MAX_SESSION_ID + 1];
    size_t i, n = 0;
    for (i = 0; i < len && n + 5 <= sizeof buf; i++) {
        if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\')
            buf[n++] = (char)data[i];
        else
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x", data[i]);
    }
    buf[n] = '\0';
    return buf;
}

long long cli_number(const char *text)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0)
        return -1;
    return v;
}

static int set_option(cli_tunables *t, int32_t option, const char *name, const char *arg)
{
    long long v = cli_number(arg);
    if (v < 0 || ruphin_options_set(t->options, option, v) != RUPHIN_OK) {
        fprintf(stderr, "ruphin: invalid value for --%s: %s\n", name, arg);
        return -1;
    }
    return 1;
}

int cli_tunable(cli_tunables *t, int opt, const char *arg)
{
    switch (opt) {
    case OPT_KEEPALIVE: return set_option(t, RUPHIN_OPT_KEEPALIVE_MS, "keepalive-ms", arg);
    case OPT_MISSED: return set_option(t, RUPHIN_OPT_MISSED_KEEPALIVES, "missed-keepalives", arg);
    case OPT_HANDSHAKE:
        return set_option(t, RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS, "handshake-timeout-ms", arg);
    case OPT_MAX_SESSIONS: return set_option(t, RUPHIN_OPT_MAX_SESSIONS, "max-sessions", arg);
    case OPT_RATE_LIMIT: return set_option(t, RUPHIN_OPT_RATE_LIMIT, "rate-limit", arg);
    case OPT_RELAY_RATE: return set_option(t, RUPHIN_OPT_RELAY_RATE, "relay-rate", arg);
    case OPT_NO_AMPLIFICATION:
        return set_option(t, RUPHIN_OPT_NO_AMPLIFICATION, "no-amplification", arg);
    case OPT_WORKERS: return set_option(t, RUPHIN_OPT_WORKERS, "workers", arg);
    case OPT_MAX_PAYLOAD: return set_option(t, RUPHIN_OPT_MAX_PAYLOAD, "max-payload", arg);
    case OPT_GEN0: return set_option(t, RUPHIN_OPT_EXTENSIONS, "protocol-0", "0");
    case OPT_RETRANSMIT: return set_option(t, RUPHIN_OPT_RETRANSMIT_MS, "retransmit-ms", arg);
    case OPT_RETRANSMIT_MAX:
        return set_option(t, RUPHIN_OPT_RETRANSMIT_MAX_MS, "retransmit-max-ms", arg);
    case OPT_PUNCH_INTERVAL:
        return set_option(t, RUPHIN_OPT_PUNCH_INTERVAL_MS, "punch-interval-ms", arg);
    case OPT_SOCKET_BUFFER: return set_option(t, RUPHIN_OPT_SOCKET_BUFFER, "socket-buffer", arg);
    case OPT_NO_LOCAL_INTERRUPT:
        return set_option(t, RUPHIN_OPT_ALLOW_INTERRUPT, "no-local-interrupt", "0");
    case OPT_RELAY_AFTER: return set_option(t, RUPHIN_OPT_RELAY_RATE, "relay-after-ms", arg);
    case OPT_ACCEPT_UNVERIFIED:
        return set_option(t, RUPHIN_OPT_ACCEPT_UNVERIFIED, "accept-unverified", "1");
    case OPT_MAX_PEERS: return set_option(t, RUPHIN_OPT_MAX_PEERS, "max-peers", arg);
    case OPT_RECOVERY:
        return set_option(t, RUPHIN_OPT_RECOVERY_TIMEOUT_MS, "recovery-timeout-ms", arg);
    case 'v': cli_verbose = true; return 1;
    default: return 0;
    }
}

int cli_tunables_init(cli_tunables *t)
{
    int32_t rc = ruphin_options_new(&t->options);
    return rc == RUPHIN_OK ? CLI_GO_ON : cli_fail("options", rc);
}

void cli_tunables_free(cli_tunables *t)
{
    ruphin_options_free(t->options);
    t->options = NULL;
}

int cli_parse(int argc, char **argv, const char *shortopts, const struct option *longopts,
              const char *help, cli_option_fn take, void *ctx)
{
    int opt;
    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(help, stdout);
            return EXIT_OK;
        }
        int taken = take(ctx, opt, optarg);
        if (taken == -1) /* a bad value, and it said why: that line alone */
            return EXIT_USAGE;
        if (taken != 1) {
            fputs(help, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

/* --key-file: the key from the file, for a sealed session. */
static int set_key(cli_tunables *t, const char *path)
{
    uint8_t key[RUPHIN_KEY_LEN];
    int32_t rc;
    if (!cli_key_read(path, key))
        return -1;
    rc = ruphin_options_set_key(t->options, key, sizeof key);
    memset(key, 0, sizeof key);
    if (rc == RUPHIN_ERR_NOT_SUPPORTED)
        fprintf(stderr, "ruphin: --key-file: this build has no sealed sessions (libsodium)\n");
    else if (rc != RUPHIN_OK)
        fprintf(stderr, "ruphin: --key-file: %s\n", ruphin_strerror(rc));
    return rc == RUPHIN_OK ? 1 : -1;
}

int peer_arg(peer_args *a, int opt, const char *arg)
{
    if (opt == OPT_HOLEPUNCHER)
        a->holepuncher = arg;
    else if (opt == OPT_SESSION)
        a->session = arg;
    else if (opt == OPT_BIND)
        a->bind = arg;
    else if (opt == OPT_KEY_FILE)
        return set_key(&a->tunables, arg);
    else
        return cli_tunable(&a->tunables, opt, arg);
    return 1;
}

int peer_open(peer_args *a, int32_t role, ruphin_node **out, const char *help)
{
    size_t id_len;
    int32_t rc;
    if (a->holepuncher == NULL || a->session == NULL) {
        fprintf(stderr, "ruphin: --holepuncher and --session are required\n%s", help);
        return EXIT_USAGE;
    }
    id_len = strlen(a->session);
    if (id_len > RUPHIN_MAX_SESSION_ID) {
        fprintf(stderr, "ruphin: the session id is longer than %d bytes\n",
                RUPHIN_MAX_SESSION_ID);
        return EXIT_USAGE;
    }
    if (role == RUPHIN_ROLE_SERVER)
        rc = ruphin_server_new(out, a->holepuncher, (const uint8_t *)a->session, id_len, a->bind,
                               a->tunables.options);
    else
        rc = ruphin_client_new(out, a->holepuncher, (const uint8_t *)a->session, id_len, a->bind,
                               a->tunables.options);
    if (rc != RUPHIN_OK)
        return cli_fail(a->holepuncher, rc);
    return CLI_GO_ON;
}
