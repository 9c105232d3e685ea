/* ruphin holepuncher: the public rendezvous service. With --workers N, a
 * group of N holepunchers on one port, one thread each, that share nothing:
 * the kernel steers each session's datagrams to one of them (RUPHIN_OPT_WORKERS). */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "metrics.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>

#ifdef RUPHIN_WITH_MICROHTTPD
#define METRICS_HELP ""
#else
#define METRICS_HELP " (not in this build:\n"                                      \
                     "                               it needs libmicrohttpd)"
#endif

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
    "  --metrics ADDR:PORT          serve Prometheus metrics at http://ADDR:PORT/metrics\n"
    "                               (docs/DEPLOYMENT.md)" METRICS_HELP "\n"
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

enum { OPT_METRICS = 2000 }; /* past common.h's options */

typedef struct hp_args {
    const char *listen;
    const char *metrics; /* --metrics ADDR:PORT, or NULL */
    cli_tunables tunables;
} hp_args;

static int take_option(void *ctx, int opt, const char *arg)
{
    hp_args *a = ctx;
    if (opt == 'q') { /* nothing reads session events then: the core makes none */
        quiet = true;
        return ruphin_options_set(a->tunables.options, RUPHIN_OPT_SESSION_EVENTS, 0) == RUPHIN_OK;
    }
    if (opt == OPT_METRICS) {
        a->metrics = arg;
        return 1;
    }
    if (opt != 'l')
        return cli_tunable(&a->tunables, opt, arg);
    a->listen = arg;
    return 1;
}

enum { MAX_WORKERS = 64 };

/* A worker: its node, its index, where its counters go (NULL: nowhere). */
typedef struct worker {
    ruphin_node *node;
    int index;
    cli_metrics *metrics;
} worker;

/* One holepuncher's loop, until a signal: events come a batch at a time
 * (a datagram's worth of work each: at a high rate, a system call per event
 * or per log line would cost more than the datagrams). */
enum { REFUSAL_LOG_MS = 60000 };

/* Joins refused because their session's owner never proved its address say
 * nothing to the joiner, which times out: the operator is told why, and
 * which option serves them, in one line a minute at most. */
static void log_refused_joins(ruphin_node *node, long long *seen, int64_t *logged_at)
{
    long long refused = ruphin_stat(node, RUPHIN_STAT_REFUSED_UNPROVEN_OWNER);
    int64_t now = ruphin_now();
    char line[200];
    if (refused == *seen || (*logged_at >= 0 && now - *logged_at < REFUSAL_LOG_MS))
        return;
    snprintf(line, sizeof line,
             "%lld joins of sessions whose owner never proved its address (an original "
             "server's) so far; --no-amplification 1 serves them (docs/SECURITY.md)",
             refused);
    log_line("refused", line);
    *seen = refused;
    *logged_at = now;
}

static void *serve_one(void *arg)
{
    const worker *w = arg;
    ruphin_event evs[RUPHIN_POLL_BATCH_MAX];
    long long refused_seen = 0;
    int64_t refusal_logged_at = -1;
    while (!cli_stop) {
        /* bounded, so that a signal is seen soon (and the metrics' snapshot
         * is at most that old) */
        int32_t rc = ruphin_poll_batch(w->node, 200, evs, RUPHIN_POLL_BATCH_MAX);
        cli_metrics_update(w->metrics, w->index, w->node, evs, rc);
        log_refused_joins(w->node, &refused_seen, &refusal_logged_at);
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

/* Serves with every worker until a signal; closes them and stops the
 * metrics (NULL: none); returns the exit code. */
static int serve(ruphin_node **hps, int n, cli_metrics *metrics)
{
    pthread_t threads[MAX_WORKERS];
    worker workers[MAX_WORKERS];
    ruphin_addr local;
    int i, started = 1;
    for (i = 0; i < n; i++) {
        workers[i].node = hps[i];
        workers[i].index = i;
        workers[i].metrics = metrics;
    }
    ruphin_local_addr(hps[0], &local);
    if (metrics != NULL)
        cli_log("metrics at %s", cli_metrics_url(metrics));
    cli_log("holepuncher listening on %s (%d worker%s)", cli_addr(&local), n, n > 1 ? "s" : "");
    fflush(stderr);
    cli_handle_signals();
    for (i = 1; i < n; i++, started++)
        if (pthread_create(&threads[i], NULL, serve_one, &workers[i]) != 0)
            break;
    if (started < n) {
        cli_log("cannot start worker %d", started);
        fflush(stderr);
        cli_stop = 1;
    }
    serve_one(&workers[0]);
    for (i = 1; i < started; i++)
        pthread_join(threads[i], NULL);
    cli_metrics_stop(metrics); /* before the nodes go: no snapshot is read after */
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
        {"metrics", required_argument, 0, OPT_METRICS},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        CLI_TUNABLE_OPTIONS,
        {0, 0, 0, 0}};
    hp_args a = {NULL, NULL, {NULL}};
    cli_metrics *metrics = NULL;
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
    }
    /* The metrics' port first: when it cannot be had, no UDP socket was
     * ever opened. */
    if (rc == CLI_GO_ON && a.metrics != NULL)
        rc = cli_metrics_start(&metrics, a.metrics, (int)workers, a.tunables.options, !quiet);
    if (rc == CLI_GO_ON) {
        opened = open_workers(hps, (int)workers, a.listen, a.tunables.options);
        if (opened < workers) {
            while (opened > 0)
                ruphin_close(hps[--opened]);
            cli_metrics_stop(metrics);
            rc = EXIT_RUNTIME;
        }
    }
    cli_tunables_free(&a.tunables);
    return rc == CLI_GO_ON ? serve(hps, (int)workers, metrics) : rc;
}
