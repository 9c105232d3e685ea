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
    "  -l, --listen ADDR:PORT     where to listen (default [::]:47470, IPv4 too,\n"
    "                             or 0.0.0.0:47470 on hosts without IPv6)\n"
    "  --max-sessions N           session table bound (default 1000000)\n"
    "  --rate-limit N             requests per second and address (default 200, 0 = none)\n"
    "  --relay-rate BYTES         relay up to BYTES/s for each pair of peers that cannot\n"
    "                             punch through their NATs (default 0: no relay)\n"
    CLI_TUNABLE_HELP
    "  -h, --help                 this help\n";

static void log_event(const ruphin_event *ev)
{
    cli_log("%s %s %s", ruphin_event_name(ev->type), cli_text(ev->data, ev->len),
            cli_addr(&ev->peer));
}

int cmd_holepuncher(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, 0, 'l'},
        {"max-sessions", required_argument, 0, OPT_MAX_SESSIONS},
        {"rate-limit", required_argument, 0, OPT_RATE_LIMIT},
        {"relay-rate", required_argument, 0, OPT_RELAY_RATE},
        {"help", no_argument, 0, 'h'},
        CLI_TUNABLE_OPTIONS,
        {0, 0, 0, 0}};
    cli_tunables t = {NULL};
    const char *listen = NULL;
    ruphin_node *hp;
    ruphin_addr local;
    ruphin_event ev;
    int opt, rc;

    ruphin_options_new(&t.options);
    while ((opt = getopt_long(argc, argv, "l:hv", longopts, NULL)) != -1) {
        if (opt == 'l') {
            listen = optarg;
        } else if (opt == 'h') {
            fputs(help, stdout);
            return EXIT_OK;
        } else if (cli_tunable(&t, opt, optarg) != 1) {
            fputs(help, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    rc = ruphin_holepuncher_new(&hp, listen, t.options);
    ruphin_options_free(t.options);
    if (rc != RUPHIN_OK)
        return cli_fail(listen ? listen : "default address", rc);
    ruphin_local_addr(hp, &local);
    cli_log("holepuncher listening on %s", cli_addr(&local));
    cli_handle_signals();
    while (!cli_stop) {
        rc = ruphin_poll(hp, 200, &ev); /* bounded, so that a signal is seen soon */
        if (rc == 1)
            log_event(&ev);
        else if (rc < 0) {
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
