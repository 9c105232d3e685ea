/* ruphin server: registers a session and talks to the clients that join. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <getopt.h>
#include <stdio.h>

static const char help[] =
    "usage: ruphin server --holepuncher HOST:PORT --session ID [--echo] [options]\n"
    "\n"
    "Prints every datagram a client sends, one per line, on standard output.\n"
    "Runs until SIGINT or SIGTERM; exits 1 if registering fails.\n"
    "\n" PEER_HELP
    "  -e, --echo                   send every datagram back to its sender\n"
    "  --max-peers N                clients connected at once (default 4096)\n" CLI_TUNABLE_HELP
    "  -h, --help                   this help\n";

/* Handles one event; returns false when the server failed for good. */
static bool handle(ruphin_node *server, const ruphin_event *ev, bool echo)
{
    switch (ev->type) {
    case RUPHIN_EVENT_DATA:
        fwrite(ev->data, 1, ev->len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        if (echo) {
            int32_t rc = ruphin_send(server, &ev->peer, ev->data, ev->len);
            if (rc != RUPHIN_OK)
                cli_log("echo to %s: %s", cli_addr(&ev->peer), ruphin_strerror(rc));
        }
        return true;
    case RUPHIN_EVENT_FAILED:
        cli_log("failed: %s", ruphin_strerror(ev->error));
        return false;
    default: /* with the reason, for PUNCH_FAILED and DISCONNECTED */
        if (ev->type != RUPHIN_EVENT_PEER_ANNOUNCED || cli_verbose)
            cli_log("%s %s%s%s", ruphin_event_name(ev->type), cli_addr(&ev->peer),
                    ev->error != 0 ? ": " : "", ev->error != 0 ? ruphin_strerror(ev->error) : "");
        return true;
    }
}

typedef struct server_args {
    peer_args peer;
    bool echo;
} server_args;

static int take_option(void *ctx, int opt, const char *arg)
{
    server_args *a = ctx;
    if (opt != 'e')
        return peer_arg(&a->peer, opt, arg);
    a->echo = true;
    return 1;
}

/* Serves until a signal or a failure; returns the exit code. */
static int serve(ruphin_node *server, const server_args *a)
{
    bool alive = true;
    ruphin_event ev;
    cli_log("server for session '%s' via %s", a->peer.session, a->peer.holepuncher);
    cli_handle_signals();
    while (!cli_stop && alive) {
        int32_t rc = ruphin_poll(server, 200, &ev); /* bounded, so that a signal is seen soon */
        if (rc == 1)
            alive = handle(server, &ev, a->echo);
        else if (rc < 0)
            alive = false;
    }
    ruphin_close(server);
    return alive ? EXIT_OK : EXIT_RUNTIME;
}

int cmd_server(int argc, char **argv)
{
    static const struct option longopts[] = {
        PEER_OPTIONS,
        {"echo", no_argument, 0, 'e'},
        {"max-peers", required_argument, 0, OPT_MAX_PEERS},
        {"help", no_argument, 0, 'h'},
        CLI_TUNABLE_OPTIONS,
        {0, 0, 0, 0}};
    server_args a = {{0}, false};
    ruphin_node *server = NULL;
    int rc = cli_tunables_init(&a.peer.tunables);
    if (rc == CLI_GO_ON)
        rc = cli_parse(argc, argv, "H:s:b:ehv", longopts, help, take_option, &a);
    if (rc == CLI_GO_ON)
        rc = peer_open(&a.peer, RUPHIN_ROLE_SERVER, &server, help);
    cli_tunables_free(&a.peer.tunables);
    return rc == CLI_GO_ON ? serve(server, &a) : rc;
}
