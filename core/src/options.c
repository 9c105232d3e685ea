/* Options: tunables with defaults and the ranges they are checked against. */
#include "options.h"

#include "seal.h"

#include <stdlib.h>
#include <string.h>

struct ruphin_options {
    int64_t values[RP_OPTION_COUNT];
    bool has_key;
    uint8_t key[RUPHIN_KEY_LEN];
};

typedef struct option_spec {
    int64_t default_value, min, max;
} option_spec;

/* Indexed by ruphin_option. Ranges keep every timer sum far below 2^31 ms,
 * which the holepuncher's 32-bit expiry times rely on. */
static const option_spec specs[RP_OPTION_COUNT] = {
    [RUPHIN_OPT_KEEPALIVE_MS] = {10000, 10, 3600000},
    [RUPHIN_OPT_MISSED_KEEPALIVES] = {3, 1, 100},
    [RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS] = {10000, 10, 3600000},
    [RUPHIN_OPT_RETRANSMIT_MS] = {250, 1, 60000},
    [RUPHIN_OPT_RETRANSMIT_MAX_MS] = {2000, 1, 600000},
    [RUPHIN_OPT_PUNCH_INTERVAL_MS] = {100, 1, 60000},
    [RUPHIN_OPT_MAX_SESSIONS] = {1000000, 1, 100000000},
    [RUPHIN_OPT_MAX_PEERS] = {4096, 1, 10000000},
    [RUPHIN_OPT_MAX_PAYLOAD] = {1024, 0, RUPHIN_MAX_PAYLOAD_LIMIT},
    [RUPHIN_OPT_ACCEPT_UNVERIFIED] = {0, 0, 1},
    [RUPHIN_OPT_ALLOW_INTERRUPT] = {1, 0, 1},
    [RUPHIN_OPT_SOCKET_BUFFER] = {0, 0, 1 << 30},
    [RUPHIN_OPT_EXTENSIONS] = {1, 0, 1},
    [RUPHIN_OPT_RATE_LIMIT] = {200, 0, 100000000},
    [RUPHIN_OPT_NO_AMPLIFICATION] = {2, 0, 2},
    [RUPHIN_OPT_RELAY_RATE] = {0, 0, 1000000000},
    [RUPHIN_OPT_WORKERS] = {1, 1, RP_MAX_WORKERS},
    [RUPHIN_OPT_WORKER] = {0, 0, RP_MAX_WORKERS - 1},
    [RUPHIN_OPT_SESSION_EVENTS] = {1, 0, 1},
    [RUPHIN_OPT_RECOVERY_TIMEOUT_MS] = {30000, 0, 3600000},
};

static bool valid_option(int32_t option)
{
    return option > 0 && option < RP_OPTION_COUNT;
}

int32_t ruphin_options_new(ruphin_options **out)
{
    ruphin_options *o;
    int i;
    if (out == NULL)
        return RUPHIN_ERR_INVALID;
    *out = NULL;
    o = malloc(sizeof *o);
    if (o == NULL)
        return RUPHIN_ERR_NOMEM;
    memset(o, 0, sizeof *o);
    for (i = 0; i < RP_OPTION_COUNT; i++)
        o->values[i] = specs[i].default_value;
    *out = o;
    return RUPHIN_OK;
}

void ruphin_options_free(ruphin_options *options)
{
    if (options != NULL)
        memset(options->key, 0, sizeof options->key); /* a secret: do not leave it around */
    free(options);
}

int32_t ruphin_seal_supported(void)
{
    return rp_seal_supported();
}

int32_t ruphin_key_generate(uint8_t *key, size_t len)
{
    if (key == NULL || len != RUPHIN_KEY_LEN)
        return RUPHIN_ERR_INVALID;
    return rp_seal_random_key(key) ? RUPHIN_OK : RUPHIN_ERR_NOT_SUPPORTED;
}

int32_t ruphin_options_set_key(ruphin_options *options, const uint8_t *key, size_t len)
{
    if (options == NULL || (key == NULL) != (len == 0) || (key != NULL && len != RUPHIN_KEY_LEN))
        return RUPHIN_ERR_INVALID;
    if (key != NULL && !rp_seal_supported())
        return RUPHIN_ERR_NOT_SUPPORTED;
    options->has_key = key != NULL;
    memset(options->key, 0, sizeof options->key);
    if (key != NULL)
        memcpy(options->key, key, len);
    return RUPHIN_OK;
}

int32_t ruphin_options_set(ruphin_options *options, int32_t option, int64_t value)
{
    if (options == NULL || !valid_option(option))
        return RUPHIN_ERR_INVALID;
    if (value < specs[option].min || value > specs[option].max)
        return RUPHIN_ERR_INVALID;
    options->values[option] = value;
    return RUPHIN_OK;
}

int32_t ruphin_options_get(const ruphin_options *options, int32_t option, int64_t *value)
{
    if (value == NULL || !valid_option(option))
        return RUPHIN_ERR_INVALID;
    *value = options ? options->values[option] : specs[option].default_value;
    return RUPHIN_OK;
}

static int64_t get(const ruphin_options *options, ruphin_option option)
{
    int64_t v = 0;
    ruphin_options_get(options, option, &v);
    return v;
}

int rp_config_from_options(rp_config *cfg, const ruphin_options *o)
{
    cfg->keepalive_ms = get(o, RUPHIN_OPT_KEEPALIVE_MS);
    cfg->missed_keepalives = get(o, RUPHIN_OPT_MISSED_KEEPALIVES);
    cfg->handshake_timeout_ms = get(o, RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS);
    cfg->retransmit_ms = get(o, RUPHIN_OPT_RETRANSMIT_MS);
    cfg->retransmit_max_ms = get(o, RUPHIN_OPT_RETRANSMIT_MAX_MS);
    cfg->punch_interval_ms = get(o, RUPHIN_OPT_PUNCH_INTERVAL_MS);
    cfg->max_sessions = get(o, RUPHIN_OPT_MAX_SESSIONS);
    cfg->max_peers = get(o, RUPHIN_OPT_MAX_PEERS);
    cfg->max_payload = get(o, RUPHIN_OPT_MAX_PAYLOAD);
    cfg->accept_unverified = get(o, RUPHIN_OPT_ACCEPT_UNVERIFIED) != 0;
    cfg->allow_interrupt = get(o, RUPHIN_OPT_ALLOW_INTERRUPT) != 0;
    cfg->socket_buffer = get(o, RUPHIN_OPT_SOCKET_BUFFER);
    cfg->extensions = get(o, RUPHIN_OPT_EXTENSIONS) != 0;
    cfg->rate_limit = get(o, RUPHIN_OPT_RATE_LIMIT);
    cfg->no_amplification = (int)get(o, RUPHIN_OPT_NO_AMPLIFICATION);
    cfg->relay_rate = get(o, RUPHIN_OPT_RELAY_RATE);
    cfg->sealed = o != NULL && o->has_key;
    if (cfg->sealed)
        memcpy(cfg->seal_key, o->key, sizeof cfg->seal_key);
    /* A sealed Data frame must still fit in a datagram. */
    if (cfg->sealed && cfg->max_payload > RUPHIN_MAX_PAYLOAD_LIMIT - RUPHIN_SEAL_OVERHEAD)
        return RUPHIN_ERR_INVALID;
    cfg->workers = get(o, RUPHIN_OPT_WORKERS);
    cfg->worker = get(o, RUPHIN_OPT_WORKER);
    cfg->session_events = get(o, RUPHIN_OPT_SESSION_EVENTS) != 0;
    cfg->recovery_timeout_ms = get(o, RUPHIN_OPT_RECOVERY_TIMEOUT_MS);
    /* Backoff may not start above its own ceiling; a group member's index
     * is below the group's size. */
    /* Members of a group hand out no cookies (their keys differ), so in
     * strict mode no owner could prove its address and no session could be
     * joined: refuse the combination rather than serve nobody. */
    if (cfg->workers > 1 && cfg->no_amplification == 2)
        return RUPHIN_ERR_INVALID;
    if (cfg->retransmit_ms > cfg->retransmit_max_ms || cfg->worker >= cfg->workers)
        return RUPHIN_ERR_INVALID;
    return RUPHIN_OK;
}
