/* Turning the public options object into a machine configuration. */
#ifndef RUPHIN_OPTIONS_H
#define RUPHIN_OPTIONS_H

#include "machine.h"

enum { RP_OPTION_COUNT = RUPHIN_OPT_RECOVERY_TIMEOUT_MS + 1, RP_MAX_WORKERS = 64 };

/* Fills cfg from options (NULL = defaults); RUPHIN_ERR_INVALID when the
 * options contradict each other. */
int rp_config_from_options(rp_config *cfg, const ruphin_options *options);

#endif
