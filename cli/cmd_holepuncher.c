/* ruphin holepuncher: the public rendezvous service. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <getopt.h>
#include <stdio.h>

static const char help[] =
    "usage: ruphin holepuncher [--listen ADDR:PORT] [options]\n"
    "\n"
    "Runs the rendezvous service until SIGINT or SIGTERM.\n"
    "\n"
    "  -l, --listen ADDR:PORT       where to listen (default [::]:47470, IPv4 too,\n"
    "                               or 0.0.0.0:47470 on hosts without IPv6)\n"
    "  --max-sessions N             session table bound (default 1000000)\n"
    "  --rate-limit N               requests per second from one address\n"
    "                               (default 200, 0 = no limit)\n"
    "  --relay-rate BYTES           relay up to BYTES/s for each pair of peers that\n"
    "                               cannot punch through their NATs (default 0: none)\n"
    "  --no-amplification MODE      2: never send an unproven address more than it\n"
    "                               sent (default); 1: also serve original servers,\n"
    "                               which cannot prove theirs; 0: off (SECURITY.md)\n"
    CLI_TUNABLE_HELP
    "  -h, --help                   this help\n";

static void log_event(const ruphin_event *ev)
{
    cli_log("%s %s %s", ruphin_event_name(ev->type), cli_text(ev->data, ev->len),
            cli_addr(&ev->peer));
}

typedef struct hp_args {
    const char *listen;
    cli_tunables tunables;
} hp_args;

static int take_option(void *ctx, int opt, const char *arg)
{
    hp_args *a = ctx;
    if (opt != 'l')
        return cli_tunable(&a->tunables, opt, arg);
    a->listen = arg;
    return 1;
}

/* Serves until a signal; returns the exit code. */
static int serve(ruphin_node *hp)
{
    ruphin_addr local;
    ruphin_event ev;
    ruphin_local_addr(hp, &local);
    cli_log("holepuncher listening on %s", cli_addr(&local));
    cli_handle_signals();
    while (!cli_stop) {
        int32_t rc = ruphin_poll(hp, 200, &ev); /* bounded, so that a signal is seen soon */
        if (rc == 1) {
            log_event(&ev);
        } else if (rc < 0) {
            cli_log("poll: %s", ruphin_strerror(rc));
            cli_wait(NULL, 0, -1, 100); /* a lasting error must not spin the loop */
        }
    }
    cli_log("stopping: %lld sessions, %lld datagrams in, %lld malformed, %lld unexpected",
            (long long)ruphin_stat(hp, RUPHIN_STAT_SESSIONS),
            (long long)ruphin_stat(hp, RUPHIN_STAT_RX_DATAGRAMS),
            (long long)ruphin_stat(hp, RUPHIN_STAT_RX_MALFORMED),
            (long long)ruphin_stat(hp, RUPHIN_STAT_RX_UNEXPECTED));
    ruphin_close(hp);
    return EXIT_OK;
}

int cmd_holepuncher(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, 0, 'l'},
        {"max-sessions", required_argument, 0, OPT_MAX_SESSIONS},
        {"rate-limit", required_argument, 0, OPT_RATE_LIMIT},
        {"relay-rate", required_argument, 0, OPT_RELAY_RATE},
        {"no-amplification", required_argument, 0, OPT_NO_AMPLIFICATION},
        {"help", no_argument, 0, 'h'},
        CLI_TUNABLE_OPTIONS,
        {0, 0, 0, 0}};
    hp_args a = {NULL, {NULL}};
    ruphin_node *hp = NULL;
    int rc = cli_tunables_init(&a.tunables);
    if (rc == CLI_GO_ON)
        rc = cli_parse(argc, argv, "l:hv", longopts, help, take_option, &a);
    if (rc == CLI_GO_ON) {
        int32_t err = ruphin_holepuncher_new(&hp, a.listen, a.tunables.options);
        if (err != RUPHIN_OK)
            rc = cli_fail(a.listen ? a.listen : "default address", err);
    }
    cli_tunables_free(&a.tunables);
    return rc == CLI_GO_ON ? serve(hp) : rc;
}
