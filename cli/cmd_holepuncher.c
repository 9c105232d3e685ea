/* ruphin holepuncher: the public rendezvous service. With --workers N, a
 * group of N holepunchers on one port, one thread each, that share nothing:
 * the kernel steers each session's datagrams to one of them (RUPHIN_OPT_WORKERS). */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <getopt.h>
#include <pthread.h>
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
    "  --workers N                  N holepunchers on the port, one thread each,\n"
    "                               sessions spread over them by id (Linux; default 1)\n"
    "  -q, --quiet                  log no session events, only the start, the stop\n"
    "                               and errors (a line per session event costs up to\n"
    "                               a fifth of the Register rate; docs/PERFORMANCE.md)\n"
    CLI_TUNABLE_HELP
    "  -h, --help                   this help\n";

/* Workers log from their own threads; cli_addr and cli_text share buffers. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool quiet;
/* Standard error is fully buffered here (set before its first use), and
 * flushed after each thing logged: a batch of events goes out in one write. */
static char log_buffer[1 << 16];

/* A batch of events, one line each. */
static void log_events(const ruphin_event *evs, int32_t n)
{
    int32_t i;
    pthread_mutex_lock(&log_lock);
    for (i = 0; i < n; i++)
        cli_log("%s %s %s", ruphin_event_name(evs[i].type), cli_text(evs[i].data, evs[i].len),
                cli_addr(&evs[i].peer));
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

static void log_line(const char *what, const char *detail)
{
    pthread_mutex_lock(&log_lock);
    cli_log("%s: %s", what, detail);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

typedef struct hp_args {
    const char *listen;
    cli_tunables tunables;
} hp_args;

static int take_option(void *ctx, int opt, const char *arg)
{
    hp_args *a = ctx;
    if (opt == 'q') { /* nothing reads session events then: the core makes none */
        quiet = true;
        return ruphin_options_set(a->tunables.options, RUPHIN_OPT_SESSION_EVENTS, 0) == RUPHIN_OK;
    }
    if (opt != 'l')
        return cli_tunable(&a->tunables, opt, arg);
    a->listen = arg;
    return 1;
}

enum { MAX_WORKERS = 64 };

/* One holepuncher's loop, until a signal: events come a batch at a time
 * (a datagram's worth of work each: at a high rate, a system call per event
 * or per log line would cost more than the datagrams). */
static void *serve_one(void *arg)
{
    ruphin_node *hp = arg;
    ruphin_event evs[RUPHIN_POLL_BATCH_MAX];
    while (!cli_stop) {
        /* bounded, so that a signal is seen soon */
        int32_t rc = ruphin_poll_batch(hp, 200, evs, RUPHIN_POLL_BATCH_MAX);
        if (rc > 0 && !quiet) {
            log_events(evs, rc);
        } else if (rc < 0) {
            log_line("poll", ruphin_strerror(rc));
            cli_wait(NULL, 0, false, 100); /* a lasting error must not spin the loop */
        }
    }
    return NULL;
}

static long long stat_sum(ruphin_node *const *hps, int n, int32_t stat)
{
    long long sum = 0;
    int i;
    for (i = 0; i < n; i++)
        sum += ruphin_stat(hps[i], stat);
    return sum;
}

/* Serves with every worker until a signal; closes them; returns the exit code. */
static int serve(ruphin_node **hps, int n)
{
    pthread_t threads[MAX_WORKERS];
    ruphin_addr local;
    int i, started = 1;
    ruphin_local_addr(hps[0], &local);
    cli_log("holepuncher listening on %s (%d worker%s)", cli_addr(&local), n, n > 1 ? "s" : "");
    fflush(stderr);
    cli_handle_signals();
    for (i = 1; i < n; i++, started++)
        if (pthread_create(&threads[i], NULL, serve_one, hps[i]) != 0)
            break;
    if (started < n) {
        cli_log("cannot start worker %d", started);
        fflush(stderr);
        cli_stop = 1;
    }
    serve_one(hps[0]);
    for (i = 1; i < started; i++)
        pthread_join(threads[i], NULL);
    for (i = 0; i < n; i++)
        cli_log("worker %d: %lld sessions", i, (long long)ruphin_stat(hps[i], RUPHIN_STAT_SESSIONS));
    cli_log("stopping: %lld sessions, %lld datagrams in, %lld malformed, %lld unexpected",
            stat_sum(hps, n, RUPHIN_STAT_SESSIONS), stat_sum(hps, n, RUPHIN_STAT_RX_DATAGRAMS),
            stat_sum(hps, n, RUPHIN_STAT_RX_MALFORMED), stat_sum(hps, n, RUPHIN_STAT_RX_UNEXPECTED));
    fflush(stderr);
    for (i = 0; i < n; i++)
        ruphin_close(hps[i]);
    return started < n ? EXIT_RUNTIME : EXIT_OK;
}

/* Creates the workers in index order: worker 0 on the address asked for,
 * the others on the address it got (the port the OS chose, if it did).
 * Returns how many exist (n when all do, after saying why not). */
static int open_workers(ruphin_node **hps, int n, const char *listen, ruphin_options *o)
{
    char bound[RUPHIN_ADDRSTRLEN];
    int i;
    for (i = 0; i < n; i++) {
        int32_t err = ruphin_options_set(o, RUPHIN_OPT_WORKER, i);
        if (err == RUPHIN_OK)
            err = ruphin_holepuncher_new(&hps[i], i == 0 ? listen : bound, o);
        if (err == RUPHIN_ERR_NOT_SUPPORTED && n > 1) {
            fprintf(stderr, "ruphin holepuncher: --workers %d needs a group of sockets on one "
                            "port steered by the kernel (SO_REUSEPORT with a BPF program), "
                            "which only Linux has: run one worker\n", n);
            return i;
        }
        if (err != RUPHIN_OK) {
            cli_fail(i == 0 ? (listen ? listen : "default address") : bound, err);
            return i;
        }
        if (i == 0) {
            ruphin_addr local;
            ruphin_local_addr(hps[0], &local);
            ruphin_addr_format(&local, bound, sizeof bound);
        }
    }
    return n;
}

int cmd_holepuncher(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, 0, 'l'},
        {"max-sessions", required_argument, 0, OPT_MAX_SESSIONS},
        {"rate-limit", required_argument, 0, OPT_RATE_LIMIT},
        {"relay-rate", required_argument, 0, OPT_RELAY_RATE},
        {"no-amplification", required_argument, 0, OPT_NO_AMPLIFICATION},
        {"workers", required_argument, 0, OPT_WORKERS},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        CLI_TUNABLE_OPTIONS,
        {0, 0, 0, 0}};
    hp_args a = {NULL, {NULL}};
    ruphin_node *hps[MAX_WORKERS];
    int64_t workers = 1;
    int rc, opened;
    setvbuf(stderr, log_buffer, _IOFBF, sizeof log_buffer); /* what is left goes out at exit */
    rc = cli_tunables_init(&a.tunables);
    if (rc == CLI_GO_ON)
        rc = cli_parse(argc, argv, "l:hvq", longopts, help, take_option, &a);
    if (rc == CLI_GO_ON) {
        int64_t mode = 2;
        ruphin_options_get(a.tunables.options, RUPHIN_OPT_WORKERS, &workers);
        ruphin_options_get(a.tunables.options, RUPHIN_OPT_NO_AMPLIFICATION, &mode);
        if (workers > 1 && mode == 2) {
            fprintf(stderr, "ruphin holepuncher: --workers needs --no-amplification 1 (workers "
                            "hand out no cookies yet, so in the default mode no session could be "
                            "joined; docs/SECURITY.md)\n");
            cli_tunables_free(&a.tunables);
            return EXIT_USAGE;
        }
        opened = open_workers(hps, (int)workers, a.listen, a.tunables.options);
        if (opened < workers) {
            while (opened > 0)
                ruphin_close(hps[--opened]);
            rc = EXIT_RUNTIME;
        }
    }
    cli_tunables_free(&a.tunables);
    return rc == CLI_GO_ON ? serve(hps, (int)workers) : rc;
}
