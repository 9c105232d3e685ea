/* ruphin holepuncher --metrics: the workers' counters as a Prometheus page
 * (text exposition format 0.0.4) at http://ADDR:PORT/metrics, served by
 * libmicrohttpd from a thread of its own. The program's, not the core's:
 * without libmicrohttpd the program builds all the same and --metrics says
 * it is not built in.
 *
 * A node belongs to one thread (docs/THREADING.md), so the HTTP thread never
 * calls ruphin_stat: each worker copies its counters into a snapshot of its
 * own, under a lock of its own, each time ruphin_poll_batch returns (at least
 * every 200 ms, the workers' poll bound), and the page is made from the
 * snapshots. */
#ifndef RUPHIN_CLI_METRICS_H
#define RUPHIN_CLI_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "ruphin.h"

typedef struct cli_metrics cli_metrics;

/* Whether this build can serve metrics (it was built with libmicrohttpd). */
bool cli_metrics_built_in(void);

/* Starts serving on listen ("ADDR:PORT"; port 0: one the OS picks) for
 * `workers` holepunchers made with options o; session_events: whether the
 * workers report session events (not --quiet), which the page then counts.
 * Binds before returning. Returns CLI_GO_ON with *out set, or an exit code
 * after one line on stderr saying why (EXIT_USAGE: not built in, or not an
 * address; EXIT_RUNTIME: the address cannot be listened on). */
int cli_metrics_start(cli_metrics **out, const char *listen, int workers,
                      const ruphin_options *o, bool session_events);

/* "http://ADDR:PORT/metrics", the address it serves on. */
const char *cli_metrics_url(const cli_metrics *m);

/* Worker `worker` (its own thread, after each ruphin_poll_batch on node,
 * whose result was rc with events evs): counts the events and copies the
 * node's counters into the worker's snapshot. m NULL: nothing. */
void cli_metrics_update(cli_metrics *m, int worker, const ruphin_node *node,
                        const ruphin_event *evs, int32_t rc);

/* Stops serving (the HTTP thread ends) and frees. NULL is fine. */
void cli_metrics_stop(cli_metrics *m);

#endif
