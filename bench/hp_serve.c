/* A holepuncher through the public API, as an application would run it:
 * one thread, ruphin_poll in a loop. Usage: hp_serve ADDR:PORT MAX_SESSIONS
 * [KEEPALIVE_MS]. Prints READY; SIGTERM ends it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "ruphin.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
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
    if (ruphin_holepuncher_new(&hp, argv[1], o) != RUPHIN_OK) {
        fprintf(stderr, "cannot listen on %s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_term);
    printf("READY\n");
    fflush(stdout);
    while (!stop)
        ruphin_poll(hp, 100, &ev);
    printf("sessions %lld rx %lld tx %lld\n", (long long)ruphin_stat(hp, RUPHIN_STAT_SESSIONS),
           (long long)ruphin_stat(hp, RUPHIN_STAT_RX_DATAGRAMS),
           (long long)ruphin_stat(hp, RUPHIN_STAT_TX_DATAGRAMS));
    ruphin_close(hp);
    return 0;
}
