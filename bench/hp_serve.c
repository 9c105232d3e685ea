/* A holepuncher through the public API, as an application would run it:
 * one thread, ruphin_poll in a loop. Usage: hp_serve ADDR:PORT MAX_SESSIONS
 * [KEEPALIVE_MS]. Prints READY; SIGUSR1 prints a line of counters
 * ("stats rx N tx N sessions N"); SIGTERM prints it and ends. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "ruphin.h"

static volatile sig_atomic_t stop, report;

static void on_signal(int sig)
{
    if (sig == SIGTERM)
        stop = 1;
    else
        report = 1;
}

static void print_stats(const ruphin_node *hp)
{
    printf("stats rx %lld tx %lld sessions %lld\n",
           (long long)ruphin_stat(hp, RUPHIN_STAT_RX_DATAGRAMS),
           (long long)ruphin_stat(hp, RUPHIN_STAT_TX_DATAGRAMS),
           (long long)ruphin_stat(hp, RUPHIN_STAT_SESSIONS));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    ruphin_options *o;
    ruphin_node *hp;
    ruphin_event ev;
    if (argc < 3) {
        fprintf(stderr, "usage: hp_serve ADDR:PORT MAX_SESSIONS [KEEPALIVE_MS]\n");
        return 2;
    }
    ruphin_options_new(&o);
    ruphin_options_set(o, RUPHIN_OPT_MAX_SESSIONS, atoll(argv[2]));
    if (argc > 3)
        ruphin_options_set(o, RUPHIN_OPT_KEEPALIVE_MS, atoll(argv[3]));
    ruphin_options_set(o, RUPHIN_OPT_SOCKET_BUFFER, 4 << 20);
    ruphin_options_set(o, RUPHIN_OPT_RATE_LIMIT, 0); /* the load comes from a few sockets */
    /* loadgen registers the original way: its sessions may be joined */
    ruphin_options_set(o, RUPHIN_OPT_NO_AMPLIFICATION, 1);
    if (ruphin_holepuncher_new(&hp, argv[1], o) != RUPHIN_OK) {
        fprintf(stderr, "cannot listen on %s\n", argv[1]);
        return 1;
    }
    ruphin_options_free(o);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_signal);
    printf("READY\n");
    fflush(stdout);
    while (!stop) {
        ruphin_poll(hp, 100, &ev); /* a signal cuts the wait short */
        if (report) {
            report = 0;
            print_stats(hp);
        }
    }
    print_stats(hp);
    ruphin_close(hp);
    return 0;
}
