/* ruphin holepuncher --metrics (metrics.h): the page, the workers'
 * snapshots and the HTTP endpoint on libmicrohttpd. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include "metrics.h"

#include "common.h"

#include <stdio.h>

#ifndef RUPHIN_WITH_MICROHTTPD

bool cli_metrics_built_in(void)
{
    return false;
}

int cli_metrics_start(cli_metrics **out, const char *listen, int workers,
                      const ruphin_options *o, bool session_events)
{
    (void)listen, (void)workers, (void)o, (void)session_events;
    *out = NULL;
    fprintf(stderr, "ruphin holepuncher: --metrics: not built in (needs libmicrohttpd)\n");
    return EXIT_USAGE;
}

const char *cli_metrics_url(const cli_metrics *m)
{
    (void)m;
    return "";
}

void cli_metrics_update(cli_metrics *m, int worker, const ruphin_node *node,
                        const ruphin_event *evs, int32_t rc)
{
    (void)m, (void)worker, (void)node, (void)evs, (void)rc;
}

void cli_metrics_stop(cli_metrics *m)
{
    (void)m;
}

#else /* RUPHIN_WITH_MICROHTTPD */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

/* Limits of the endpoint, so that slow or huge requests cost the process
 * little and never reach the workers (the HTTP thread is not theirs): an
 * idle connection is closed after CONNECTION_TIMEOUT_S; at most
 * MAX_CONNECTIONS at once, PER_ADDRESS_CONNECTIONS from one address (so
 * that one address cannot lock the scraper out); a request's head must fit
 * in CONNECTION_MEMORY bytes (else 431, and the connection is closed). */
enum {
    CONNECTION_TIMEOUT_S = 5,
    MAX_CONNECTIONS = 64,
    PER_ADDRESS_CONNECTIONS = 8,
    CONNECTION_MEMORY = 16 * 1024,
    LISTEN_BACKLOG = 16
};

/* Session events the worker counts (the core has no counter for them). */
enum { EV_REGISTERED, EV_JOINED, EV_EXPIRED, EV_KINDS };

/* A worker's counters as of its latest poll: written by the worker, read by
 * the HTTP thread, both under lock. */
typedef struct worker_snapshot {
    pthread_mutex_t lock;
    int64_t stats[RUPHIN_STAT_COUNT];
    int64_t events[EV_KINDS];
    int64_t poll_errors;
    int64_t polled_at; /* ruphin_now() of the latest update; 0: none yet */
} worker_snapshot;

struct cli_metrics {
    struct MHD_Daemon *daemon;
    int workers;
    bool session_events;
    int64_t max_sessions;
    time_t started; /* wall clock, for process_start_time_seconds */
    char url[RUPHIN_ADDRSTRLEN + 32];
    worker_snapshot *snaps;
};

bool cli_metrics_built_in(void)
{
    return true;
}

/* ---- the workers' side ---- */

void cli_metrics_update(cli_metrics *m, int worker, const ruphin_node *node,
                        const ruphin_event *evs, int32_t rc)
{
    worker_snapshot *s;
    int64_t stats[RUPHIN_STAT_COUNT], events[EV_KINDS] = {0}, now;
    int32_t i;
    if (m == NULL)
        return;
    for (i = 0; i < rc; i++) {
        if (evs[i].type == RUPHIN_EVENT_SESSION_REGISTERED)
            events[EV_REGISTERED]++;
        else if (evs[i].type == RUPHIN_EVENT_SESSION_JOINED)
            events[EV_JOINED]++;
        else if (evs[i].type == RUPHIN_EVENT_SESSION_EXPIRED)
            events[EV_EXPIRED]++;
    }
    for (i = 0; i < RUPHIN_STAT_COUNT; i++)
        stats[i] = ruphin_stat(node, i);
    now = ruphin_now();
    s = &m->snaps[worker];
    pthread_mutex_lock(&s->lock);
    memcpy(s->stats, stats, sizeof stats);
    for (i = 0; i < EV_KINDS; i++)
        s->events[i] += events[i];
    s->poll_errors += rc < 0;
    s->polled_at = now;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the page ---- */

/* A growing text buffer; on allocation failure it stays failed (NULL). */
typedef struct page {
    char *text;
    size_t len, cap;
} page;

static void put(page *p, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (p->text == NULL)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(p->text + p->len, p->cap - p->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            free(p->text);
            p->text = NULL;
            return;
        }
        if ((size_t)n < p->cap - p->len) {
            p->len += (size_t)n;
            return;
        }
        {
            size_t cap = p->cap * 2 + (size_t)n;
            char *bigger = realloc(p->text, cap);
            if (bigger == NULL) {
                free(p->text);
                p->text = NULL;
                return;
            }
            p->text = bigger;
            p->cap = cap;
        }
    }
}

static void family(page *p, const char *name, const char *type, const char *help)
{
    put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{worker="i",extra} value; the worker label only when
 * there are several workers, extra (already formatted) when not NULL. */
static void sample(page *p, const cli_metrics *m, const char *name, int worker,
                   const char *extra, long long value)
{
    if (m->workers > 1 && extra != NULL)
        put(p, "%s{worker=\"%d\",%s} %lld\n", name, worker, extra, value);
    else if (m->workers > 1)
        put(p, "%s{worker=\"%d\"} %lld\n", name, worker, value);
    else if (extra != NULL)
        put(p, "%s{%s} %lld\n", name, extra, value);
    else
        put(p, "%s %lld\n", name, value);
}

/* The counters of ruphin.h a holepuncher keeps, one family each, or with a
 * label where several make up one family. Every RUPHIN_STAT_* is here or
 * named in this comment (tests/metrics checks that): those a holepuncher
 * never counts, the server's and the client's (RUPHIN_STAT_PEERS,
 * RUPHIN_STAT_RX_REJECTED, RUPHIN_STAT_TX_DROPPED), and RUPHIN_STAT_RX_REFUSED,
 * the sum of the four refusal reasons of the core that are families here. */
static const struct stat_metric {
    int32_t stat;
    const char *name, *type, *label, *help; /* help: NULL when the family was described */
} stat_metrics[] = {
    {RUPHIN_STAT_SESSIONS, "ruphin_sessions", "gauge", NULL,
     "Live sessions in the holepuncher's table."},
    {RUPHIN_STAT_RX_DATAGRAMS, "ruphin_received_datagrams_total", "counter", NULL,
     "Datagrams received."},
    {RUPHIN_STAT_TX_DATAGRAMS, "ruphin_sent_datagrams_total", "counter", NULL,
     "Datagrams sent (answers, announcements, relayed datagrams)."},
    {RUPHIN_STAT_TX_FAILED, "ruphin_send_failures_total", "counter", NULL,
     "Sends the OS refused (send buffer full, unreachable)."},
    {RUPHIN_STAT_RX_MALFORMED, "ruphin_malformed_datagrams_total", "counter", NULL,
     "Datagrams dropped because they are not a well-formed frame."},
    {RUPHIN_STAT_RX_UNEXPECTED, "ruphin_unexpected_datagrams_total", "counter", NULL,
     "Well-formed datagrams dropped because their sender or the state had no business "
     "sending them."},
    {RUPHIN_STAT_REQUESTS_REGISTER, "ruphin_requests_total", "counter", "type=\"register\"",
     "Requests taken (past the per-source rate limit), by type: register (refreshes and "
     "claims too), join, hello, probe (for a cookie), unregister, relay."},
    {RUPHIN_STAT_REQUESTS_JOIN, "ruphin_requests_total", "counter", "type=\"join\"", NULL},
    {RUPHIN_STAT_REQUESTS_HELLO, "ruphin_requests_total", "counter", "type=\"hello\"", NULL},
    {RUPHIN_STAT_REQUESTS_PROBE, "ruphin_requests_total", "counter", "type=\"probe\"", NULL},
    {RUPHIN_STAT_REQUESTS_UNREGISTER, "ruphin_requests_total", "counter",
     "type=\"unregister\"", NULL},
    {RUPHIN_STAT_REQUESTS_RELAY, "ruphin_requests_total", "counter", "type=\"relay\"", NULL},
    {RUPHIN_STAT_REFUSED_RATE_LIMIT, "ruphin_refused_requests_total", "counter",
     "reason=\"rate_limit\"",
     "Requests refused, by reason: over a source's or a Join's owner's rate limit "
     "(rate_limit), an answer larger than an unproven request (amplification), a Join of a "
     "session whose owner has not proven its address (unproven_owner: original servers; "
     "--no-amplification 1 serves them), a Relay frame over its pair's budget "
     "(relay_budget), a full session table (table_full), a Register of a live id from "
     "another owner or without its token (conflict)."},
    {RUPHIN_STAT_REFUSED_AMPLIFICATION, "ruphin_refused_requests_total", "counter",
     "reason=\"amplification\"", NULL},
    {RUPHIN_STAT_REFUSED_UNPROVEN_OWNER, "ruphin_refused_requests_total", "counter",
     "reason=\"unproven_owner\"", NULL},
    {RUPHIN_STAT_REFUSED_RELAY_BUDGET, "ruphin_refused_requests_total", "counter",
     "reason=\"relay_budget\"", NULL},
    {RUPHIN_STAT_SESSIONS_REFUSED, "ruphin_refused_requests_total", "counter",
     "reason=\"table_full\"", NULL},
    {RUPHIN_STAT_REGISTER_CONFLICTS, "ruphin_refused_requests_total", "counter",
     "reason=\"conflict\"", NULL},
    {RUPHIN_STAT_RELAYED_BYTES, "ruphin_relayed_bytes_total", "counter", NULL,
     "Bytes of Relay frames forwarded between peers that could not punch."},
    {RUPHIN_STAT_RELAY_PAIRS, "ruphin_relay_pairs_total", "counter", NULL,
     "Pairs of peers offered the relay (--relay-rate)."},
    {RUPHIN_STAT_EVENTS_DROPPED, "ruphin_dropped_events_total", "counter", NULL,
     "Events lost because the node's queue was full."},
};

static const char *const event_labels[EV_KINDS] = {
    "event=\"registered\"", "event=\"joined\"", "event=\"expired\""};

/* The page, from a copy of every snapshot (each taken under its lock). */
static page make_page(const cli_metrics *m)
{
    page p = {malloc(4096), 0, 4096};
    worker_snapshot *copy = calloc((size_t)m->workers, sizeof *copy);
    int64_t now = ruphin_now();
    size_t k;
    int w, e;
    if (copy == NULL) {
        free(p.text);
        p.text = NULL;
        return p;
    }
    for (w = 0; w < m->workers; w++) {
        worker_snapshot *s = &m->snaps[w];
        pthread_mutex_lock(&s->lock);
        memcpy(copy[w].stats, s->stats, sizeof s->stats);
        memcpy(copy[w].events, s->events, sizeof s->events);
        copy[w].poll_errors = s->poll_errors;
        copy[w].polled_at = s->polled_at;
        pthread_mutex_unlock(&s->lock);
    }

    family(&p, "ruphin_build_info", "gauge",
           "The ruphin program's version (the value is always 1).");
    put(&p, "ruphin_build_info{version=\"%s\"} 1\n", ruphin_version());
    family(&p, "process_start_time_seconds", "gauge",
           "When the process started, in seconds since the Unix epoch.");
    put(&p, "process_start_time_seconds %lld\n", (long long)m->started);
    family(&p, "ruphin_workers", "gauge", "Holepunchers sharing the port, a thread each.");
    put(&p, "ruphin_workers %d\n", m->workers);
    family(&p, "ruphin_max_sessions", "gauge",
           "The bound of each worker's session table (--max-sessions).");
    for (w = 0; w < m->workers; w++)
        sample(&p, m, "ruphin_max_sessions", w, NULL, m->max_sessions);

    for (k = 0; k < sizeof stat_metrics / sizeof stat_metrics[0]; k++) {
        const struct stat_metric *sm = &stat_metrics[k];
        if (sm->help != NULL)
            family(&p, sm->name, sm->type, sm->help);
        for (w = 0; w < m->workers; w++)
            sample(&p, m, sm->name, w, sm->label, copy[w].stats[sm->stat]);
    }

    if (m->session_events) { /* --quiet: the core makes none, so none to count */
        family(&p, "ruphin_session_events_total", "counter",
               "Session events: new sessions (registered), clients that found a session "
               "(joined), sessions that expired or were ended by their owner (expired).");
        for (e = 0; e < EV_KINDS; e++)
            for (w = 0; w < m->workers; w++)
                sample(&p, m, "ruphin_session_events_total", w, event_labels[e],
                       copy[w].events[e]);
    }
    family(&p, "ruphin_poll_errors_total", "counter",
           "Errors ruphin_poll_batch returned (each is logged).");
    for (w = 0; w < m->workers; w++)
        sample(&p, m, "ruphin_poll_errors_total", w, NULL, copy[w].poll_errors);

    /* A live worker comes back from polling at least every 200 ms. */
    family(&p, "ruphin_poll_age_seconds", "gauge",
           "Seconds since the worker last came back from polling (below 0.3 while it runs; "
           "the counters above are as of then).");
    for (w = 0; w < m->workers; w++) {
        int64_t age = copy[w].polled_at == 0 ? 0 : now - copy[w].polled_at;
        if (m->workers > 1)
            put(&p, "ruphin_poll_age_seconds{worker=\"%d\"} %.3f\n", w, (double)age / 1000.0);
        else
            put(&p, "ruphin_poll_age_seconds %.3f\n", (double)age / 1000.0);
    }
    free(copy);
    return p;
}

/* ---- HTTP ---- */

static mhd_result respond(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_PERSISTENT);
    mhd_result rc;
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Answers at the first call, with the head alone: a body is never read
 * (libmicrohttpd closes the connection after the answer instead). */
static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
    const cli_metrics *m = cls;
    struct MHD_Response *r;
    mhd_result rc;
    page p;
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    if (strcmp(url, "/metrics") != 0)
        return respond(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD\n");
    p = make_page(m);
    if (p.text == NULL)
        return MHD_NO; /* out of memory: the connection is closed */
    r = MHD_create_response_from_buffer(p.len, p.text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(p.text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* A listening TCP socket on addr (its port set to the one bound), or -1
 * with errno. Made here rather than by libmicrohttpd, which would not say
 * why it failed. */
static int listen_on(ruphin_addr *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;
    memset(&ss, 0, sizeof ss);
    if (addr->family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(addr->port);
        memcpy(&in->sin_addr, addr->ip, 4);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(addr->port);
        in6->sin6_scope_id = addr->scope_id;
        memcpy(&in6->sin6_addr, addr->ip, 16);
        len = sizeof *in6;
    }
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    addr->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                               : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void metrics_free(cli_metrics *m)
{
    int w;
    for (w = 0; m->snaps != NULL && w < m->workers; w++)
        pthread_mutex_destroy(&m->snaps[w].lock);
    free(m->snaps);
    free(m);
}

int cli_metrics_start(cli_metrics **out, const char *listen, int workers,
                      const ruphin_options *o, bool session_events)
{
    cli_metrics *m;
    ruphin_addr addr;
    sigset_t block, saved;
    char text[RUPHIN_ADDRSTRLEN];
    int w, fd;
    *out = NULL;
    if (ruphin_addr_resolve(listen, 0, &addr) != RUPHIN_OK) {
        fprintf(stderr, "ruphin holepuncher: --metrics %s: not an ADDR:PORT "
                        "(such as 127.0.0.1:9470 or [::1]:9470)\n", listen);
        return EXIT_USAGE;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL || (m->snaps = calloc((size_t)workers, sizeof *m->snaps)) == NULL) {
        free(m);
        fprintf(stderr, "ruphin holepuncher: --metrics: out of memory\n");
        return EXIT_RUNTIME;
    }
    m->workers = workers;
    for (w = 0; w < workers; w++)
        pthread_mutex_init(&m->snaps[w].lock, NULL);
    m->session_events = session_events;
    m->max_sessions = 0;
    ruphin_options_get(o, RUPHIN_OPT_MAX_SESSIONS, &m->max_sessions);
    m->started = time(NULL);

    fd = listen_on(&addr);
    if (fd < 0) {
        fprintf(stderr, "ruphin holepuncher: --metrics %s: %s\n", listen, strerror(errno));
        metrics_free(m);
        return EXIT_RUNTIME;
    }
    ruphin_addr_format(&addr, text, sizeof text);
    snprintf(m->url, sizeof m->url, "http://%s/metrics", text);

    /* The HTTP thread inherits this thread's signal mask: it takes none of
     * the signals that stop the program, which the workers wait for. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    m->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | (addr.family == 6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
        on_request, m, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_ADDRESS_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (m->daemon == NULL) {
        close(fd);
        fprintf(stderr, "ruphin holepuncher: --metrics %s: the HTTP server did not start\n",
                listen);
        metrics_free(m);
        return EXIT_RUNTIME;
    }
    *out = m;
    return CLI_GO_ON;
}

const char *cli_metrics_url(const cli_metrics *m)
{
    return m->url;
}

void cli_metrics_stop(cli_metrics *m)
{
    if (m == NULL)
        return;
    MHD_stop_daemon(m->daemon); /* joins its thread, closes the listening socket */
    metrics_free(m);
}

#endif /* RUPHIN_WITH_MICROHTTPD */
