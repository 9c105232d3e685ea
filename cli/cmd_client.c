/* ruphin client: joins a session and talks to its server. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: ruphin client --holepuncher HOST:PORT --session ID [--count N] [options]\n"
    "\n"
    "Sends each line of standard input as a datagram and prints what comes back.\n"
    "With --count N it sends N numbered datagrams instead, prints how many came\n"
    "back, and exits 0 only if it connected and at least one came back.\n"
    "Exits 1 when the session does not exist or time runs out.\n"
    "\n" PEER_HELP
    "  -n, --count N                send N numbered datagrams\n"
    "  -i, --interval-ms MS         pace of those datagrams (default 20)\n"
    "  -t, --timeout SECONDS        give up after this long (default 10; for\n"
    "                               standard input: to connect)\n" CLI_TUNABLE_HELP
    "  -h, --help                   this help\n";

enum { GRACE_MS = 1000, LINE_MAX_LEN = 65536 };

typedef struct client_run {
    ruphin_node *node;
    int64_t start, deadline, finish_at; /* finish_at: -1 until all is sent */
    int64_t next_send, interval_ms;
    long long count; /* 0: standard input mode */
    long long sent, received;
    bool announced, connected, stdin_open;
    int32_t failure;
    char line[LINE_MAX_LEN];
    size_t line_len;
} client_run;

static void send_datagram(client_run *r, const char *data, size_t len)
{
    int32_t rc = ruphin_send(r->node, NULL, (const uint8_t *)data, len);
    if (rc == RUPHIN_OK)
        r->sent++;
    else
        cli_log("send: %s", ruphin_strerror(rc));
}

static void on_event(client_run *r, const ruphin_event *ev)
{
    int64_t ms = ruphin_now() - r->start;
    switch (ev->type) {
    case RUPHIN_EVENT_PEER_ANNOUNCED:
        r->announced = true;
        cli_log("server announced at %s after %lld ms, punching", cli_addr(&ev->peer),
                (long long)ms);
        break;
    case RUPHIN_EVENT_RELAYED:
    case RUPHIN_EVENT_CONNECTED:
        if (ev->type == RUPHIN_EVENT_RELAYED)
            cli_log("relayed through the holepuncher (no direct path found)");
        r->connected = true;
        if (r->count == 0)
            r->deadline = INT64_MAX; /* lines may come for as long as they like */
        cli_log("connected to %s after %lld ms", cli_addr(&ev->peer), (long long)ms);
        break;
    case RUPHIN_EVENT_DATA:
        if (r->received++ == 0)
            cli_log("first datagram back after %lld ms", (long long)ms);
        if (r->count == 0 || cli_verbose) {
            fwrite(ev->data, 1, ev->len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        break;
    case RUPHIN_EVENT_PATH_LOST:
        cli_log("path to %s lost after %lld ms, looking for it", cli_addr(&ev->peer),
                (long long)ms);
        break;
    case RUPHIN_EVENT_PATH_RESTORED:
        cli_log("path restored to %s after %lld ms", cli_addr(&ev->peer), (long long)ms);
        break;
    case RUPHIN_EVENT_FAILED:
        r->failure = ev->error;
        break;
    default:
        break;
    }
}

/* Count mode: the next numbered datagram when it is due. */
static void send_numbered(client_run *r, int64_t now)
{
    char msg[64];
    /* The first datagram goes as soon as the server is known (early data,
     * right behind our first hello); the rest once connected. */
    if (!(r->connected || (r->announced && r->sent == 0)) || r->sent >= r->count ||
        now < r->next_send)
        return;
    send_datagram(r, msg, (size_t)snprintf(msg, sizeof msg, "ruphin %lld", r->sent + 1));
    r->next_send = now + r->interval_ms;
    if (r->sent == r->count)
        r->finish_at = now + GRACE_MS;
}

/* Standard input mode: sends every complete line that is waiting. */
static void read_stdin(client_run *r)
{
    long n = cli_stdin_read(r->line + r->line_len, sizeof r->line - r->line_len);
    char *nl;
    if (n <= 0) {
        r->stdin_open = false;
        if (r->line_len > 0)
            send_datagram(r, r->line, r->line_len);
        r->finish_at = ruphin_now() + GRACE_MS;
        return;
    }
    r->line_len += (size_t)n;
    while ((nl = memchr(r->line, '\n', r->line_len)) != NULL) {
        size_t len = (size_t)(nl - r->line);
        /* A line typed on Windows, or from a file written there, ends in
         * CR LF: the CR is not part of the line. */
        send_datagram(r, r->line, len > 0 && r->line[len - 1] == '\r' ? len - 1 : len);
        memmove(r->line, nl + 1, r->line_len - len - 1);
        r->line_len -= len + 1;
    }
    if (r->line_len == sizeof r->line) { /* a line longer than any datagram */
        send_datagram(r, r->line, r->line_len);
        r->line_len = 0;
    }
}

static bool finished(const client_run *r, int64_t now)
{
    if (r->failure != 0 || now >= r->deadline)
        return true;
    if (r->count > 0 && r->sent == r->count && r->received >= r->count)
        return true;
    return r->finish_at >= 0 && now >= r->finish_at;
}

/* How long the loop may wait before it has something to do, in ms. */
static int wait_ms(const client_run *r, int64_t now)
{
    int64_t until = r->deadline;
    if (r->count > 0 && (r->connected || r->announced) && r->sent < r->count &&
        r->next_send < until)
        until = r->next_send;
    if (r->finish_at >= 0 && r->finish_at < until)
        until = r->finish_at;
    if (until <= now)
        return 0;
    return until - now > 60000 ? 60000 : (int)(until - now);
}

static int run(client_run *r)
{
    ruphin_event ev;
    for (;;) {
        int32_t rc;
        bool watch_stdin;
        int64_t now;
        while ((rc = ruphin_poll(r->node, 0, &ev)) == 1)
            on_event(r, &ev);
        if (rc < 0 && r->failure == 0)
            r->failure = rc; /* then finished: no waiting for more once failed */
        if (r->count > 0)
            send_numbered(r, ruphin_now());
        now = ruphin_now();
        if (cli_stop || finished(r, now))
            break;
        /* Lines are read once connected; until then they wait in the pipe. */
        watch_stdin = r->count == 0 && r->connected && r->stdin_open;
        if (cli_wait(&r->node, 1, watch_stdin, wait_ms(r, now)))
            read_stdin(r);
    }
    if (r->count > 0)
        printf("%lld sent, %lld received\n", r->sent, r->received);
    if (r->failure != 0)
        return cli_fail("client", r->failure);
    if (!r->connected && r->received == 0) {
        fprintf(stderr, "ruphin: client: timed out: no connection to the server\n");
        return EXIT_RUNTIME;
    }
    if (r->count > 0 && r->received == 0) {
        fprintf(stderr, "ruphin: client: connected, but no datagram came back\n");
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

typedef struct client_args {
    peer_args peer;
    client_run *run;
    long long timeout_s;
} client_args;

static int take_option(void *ctx, int opt, const char *arg)
{
    client_args *a = ctx;
    switch (opt) {
    case 'n': return (a->run->count = cli_number(arg)) >= 1;
    case 'i': return (a->run->interval_ms = cli_number(arg)) >= 0;
    case 't': return (a->timeout_s = cli_number(arg)) >= 1;
    default: return peer_arg(&a->peer, opt, arg);
    }
}

int cmd_client(int argc, char **argv)
{
    static const struct option longopts[] = {
        PEER_OPTIONS,
        {"count", required_argument, 0, 'n'},
        {"interval-ms", required_argument, 0, 'i'},
        {"timeout", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        CLI_TUNABLE_OPTIONS,
        {0, 0, 0, 0}};
    static client_run r; /* large (the line buffer): not on the stack */
    client_args a = {{0}, &r, 10};
    int rc = cli_tunables_init(&a.peer.tunables);
    r.interval_ms = 20;
    if (rc == CLI_GO_ON)
        rc = cli_parse(argc, argv, "H:s:b:n:i:t:hv", longopts, help, take_option, &a);
    if (rc == CLI_GO_ON)
        rc = peer_open(&a.peer, RUPHIN_ROLE_CLIENT, &r.node, help);
    cli_tunables_free(&a.peer.tunables);
    if (rc != CLI_GO_ON)
        return rc;
    cli_handle_signals();
    r.start = ruphin_now();
    r.deadline = r.start + a.timeout_s * 1000;
    r.finish_at = -1;
    r.stdin_open = r.count == 0;
    if (r.stdin_open && !cli_stdin_start()) {
        ruphin_close(r.node);
        fprintf(stderr, "ruphin: client: cannot read standard input\n");
        return EXIT_RUNTIME;
    }
    rc = run(&r);
    ruphin_close(r.node);
    return rc;
}
