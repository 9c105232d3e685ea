/* A holepuncher through the public API, as `ruphin holepuncher --quiet`
 * runs it: ruphin_poll_batch in a loop. Usage: hp_serve ADDR:PORT MAX_SESSIONS
 * [KEEPALIVE_MS [WORKERS]]. WORKERS > 1: a group of holepunchers on the
 * port (RUPHIN_OPT_WORKERS), worker i in its own thread on CPU i, each
 * with MAX_SESSIONS room. Prints READY; SIGUSR1 prints a line of counters
 * summed over the workers ("stats rx N tx N sessions N"); SIGTERM prints it
 * and ends. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "ruphin.h"

enum { MAX_WORKERS = 64 };

static volatile sig_atomic_t stop, report;
static ruphin_node *workers[MAX_WORKERS];
static int worker_count = 1;

static void on_signal(int sig)
{
    if (sig == SIGTERM)
        stop = 1;
    else
        report = 1;
}

/* Another worker's counters are read while it runs: a benchmark's figure. */
static long long sum(int32_t stat)
{
    long long total = 0;
    int i;
    for (i = 0; i < worker_count; i++)
        total += ruphin_stat(workers[i], stat);
    return total;
}

static void print_stats(void)
{
    printf("stats rx %lld tx %lld sessions %lld\n", sum(RUPHIN_STAT_RX_DATAGRAMS),
           sum(RUPHIN_STAT_TX_DATAGRAMS), sum(RUPHIN_STAT_SESSIONS));
    fflush(stdout);
}

/* Worker i's loop (i > 0), on CPU i. */
static void *serve(void *arg)
{
    intptr_t i = (intptr_t)arg;
    ruphin_event evs[RUPHIN_POLL_BATCH_MAX];
    pin((int)(i % sysconf(_SC_NPROCESSORS_ONLN)));
    while (!stop) /* as `ruphin holepuncher --quiet` serves */
        ruphin_poll_batch(workers[i], 100, evs, RUPHIN_POLL_BATCH_MAX); /* a signal ends it */
    return NULL;
}

/* Worker 0 on ADDR:PORT, the others on the address it got. */
static int open_workers(const char *listen, ruphin_options *o)
{
    char bound[RUPHIN_ADDRSTRLEN];
    ruphin_addr local;
    int i;
    for (i = 0; i < worker_count; i++) {
        ruphin_options_set(o, RUPHIN_OPT_WORKER, i);
        if (ruphin_holepuncher_new(&workers[i], i == 0 ? listen : bound, o) != RUPHIN_OK) {
            fprintf(stderr, "cannot listen on %s (worker %d)\n", i == 0 ? listen : bound, i);
            return 1;
        }
        ruphin_local_addr(workers[0], &local);
        ruphin_addr_format(&local, bound, sizeof bound);
    }
    return 0;
}

int main(int argc, char **argv)
{
    pthread_t threads[MAX_WORKERS];
    ruphin_options *o;
    ruphin_event evs[RUPHIN_POLL_BATCH_MAX];
    int i;
    if (argc < 3) {
        fprintf(stderr, "usage: hp_serve ADDR:PORT MAX_SESSIONS [KEEPALIVE_MS [WORKERS]]\n");
        return 2;
    }
    if (argc > 4)
        worker_count = atoi(argv[4]) < 1 ? 1 : atoi(argv[4]) > MAX_WORKERS ? MAX_WORKERS
                                                                            : atoi(argv[4]);
    ruphin_options_new(&o);
    ruphin_options_set(o, RUPHIN_OPT_MAX_SESSIONS, atoll(argv[2]));
    if (argc > 3)
        ruphin_options_set(o, RUPHIN_OPT_KEEPALIVE_MS, atoll(argv[3]));
    ruphin_options_set(o, RUPHIN_OPT_SOCKET_BUFFER, 4 << 20);
    ruphin_options_set(o, RUPHIN_OPT_RATE_LIMIT, 0); /* the load comes from a few sockets */
    /* loadgen registers the original way: its sessions may be joined */
    ruphin_options_set(o, RUPHIN_OPT_NO_AMPLIFICATION, 1);
    ruphin_options_set(o, RUPHIN_OPT_WORKERS, worker_count);
    ruphin_options_set(o, RUPHIN_OPT_SESSION_EVENTS, 0); /* as --quiet: none is read */
    if (open_workers(argv[1], o) != 0)
        return 1;
    ruphin_options_free(o);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_signal);
    if (worker_count > 1)
        pin(0);
    for (i = 1; i < worker_count; i++)
        pthread_create(&threads[i], NULL, serve, (void *)(intptr_t)i);
    printf("READY\n");
    fflush(stdout);
    while (!stop) {
        ruphin_poll_batch(workers[0], 100, evs, RUPHIN_POLL_BATCH_MAX); /* a signal ends it */
        if (report) {
            report = 0;
            print_stats();
        }
    }
    for (i = 1; i < worker_count; i++)
        pthread_join(threads[i], NULL);
    print_stats();
    for (i = 0; i < worker_count; i++)
        ruphin_close(workers[i]);
    return 0;
}
