/*
 * Lua binding of libruphin, for Lua 5.4 and for Lua 5.1 / LuaJIT. A thin
 * layer: every node is a userdata around a ruphin_node; the protocol runs
 * in the C core. Runtime failures return nil plus a message (and the C
 * error code); wrong argument types raise errors.
 *
 *   local ruphin = require("ruphin")
 *   local client = assert(ruphin.client("203.0.113.1:47470", "game"))
 *   local ev = client:poll(0)   -- nil, or {type = "CONNECTED", peer = "...", ...}
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "ruphin.h"

#define NODE_META "ruphin.node"

/* luaL_setfuncs and luaL_newlib are not in Lua 5.1: one loop serves all. */
static void set_functions(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}

typedef struct lnode {
    ruphin_node *node;
} lnode;

/* nil, message, code: the runtime-failure convention. */
static int fail(lua_State *L, int32_t code)
{
    lua_pushnil(L);
    lua_pushstring(L, ruphin_strerror(code));
    lua_pushinteger(L, code);
    return 3;
}

static ruphin_node *check_node(lua_State *L)
{
    lnode *n = luaL_checkudata(L, 1, NODE_META);
    if (n->node == NULL)
        luaL_error(L, "attempt to use a closed ruphin node");
    return n->node;
}

/* ---- options ---- */

static const struct {
    const char *name;
    int32_t id;
} option_names[] = {
    {"keepalive_ms", RUPHIN_OPT_KEEPALIVE_MS},
    {"missed_keepalives", RUPHIN_OPT_MISSED_KEEPALIVES},
    {"handshake_timeout_ms", RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS},
    {"retransmit_ms", RUPHIN_OPT_RETRANSMIT_MS},
    {"retransmit_max_ms", RUPHIN_OPT_RETRANSMIT_MAX_MS},
    {"punch_interval_ms", RUPHIN_OPT_PUNCH_INTERVAL_MS},
    {"max_sessions", RUPHIN_OPT_MAX_SESSIONS},
    {"max_peers", RUPHIN_OPT_MAX_PEERS},
    {"max_payload", RUPHIN_OPT_MAX_PAYLOAD},
    {"accept_unverified", RUPHIN_OPT_ACCEPT_UNVERIFIED},
    {"allow_interrupt", RUPHIN_OPT_ALLOW_INTERRUPT},
    {"socket_buffer", RUPHIN_OPT_SOCKET_BUFFER},
    {"extensions", RUPHIN_OPT_EXTENSIONS},
    {"rate_limit", RUPHIN_OPT_RATE_LIMIT},
    {"no_amplification", RUPHIN_OPT_NO_AMPLIFICATION},
    {"relay_rate", RUPHIN_OPT_RELAY_RATE},
    {"workers", RUPHIN_OPT_WORKERS},
    {"worker", RUPHIN_OPT_WORKER},
    {"session_events", RUPHIN_OPT_SESSION_EVENTS},
    {"recovery_timeout_ms", RUPHIN_OPT_RECOVERY_TIMEOUT_MS},
};

#define OPTION_COUNT (sizeof option_names / sizeof option_names[0])

/* The value of option key at the top of the stack: booleans count as 0/1,
 * anything else that is not an integer raises. */
static int64_t option_value(lua_State *L, const char *key)
{
    lua_Number n;
    if (lua_isboolean(L, -1))
        return lua_toboolean(L, -1);
    n = lua_tonumber(L, -1);
    /* The range check first: casting an out-of-range double is undefined. */
    if (!lua_isnumber(L, -1) || !(n > -9.0e18 && n < 9.0e18) || n != (lua_Number)(int64_t)n)
        luaL_error(L, "ruphin option '%s' wants an integer or a boolean", key);
    return (int64_t)n;
}

/* A string entry of the options table ("bind", "key"): *out points into the
 * table, which keeps it alive. */
static void string_option(lua_State *L, const char *key, const char **out, size_t *len)
{
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "ruphin option '%s' wants a string", key);
    *out = lua_tolstring(L, -1, len);
}

/* Reads the options table at index idx (nil or absent: defaults) into a new
 * ruphin_options (with its "key" for sealed sessions), and its "bind" entry
 * into *bind. Unknown keys and values
 * of the wrong type raise; they are checked before anything is allocated,
 * so that raising leaks nothing. A value the core refuses is returned as
 * its error code. */
static int32_t read_options(lua_State *L, int idx, ruphin_options **out, const char **bind)
{
    int64_t values[OPTION_COUNT];
    int given[OPTION_COUNT] = {0};
    const char *seal_key = NULL;
    size_t i, key_len = 0, bind_len;
    int32_t rc;

    *out = NULL;
    *bind = NULL;
    if (!lua_isnoneornil(L, idx)) {
        luaL_checktype(L, idx, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            /* lua_tostring would turn a number key into a string in place and
             * confuse lua_next: only look at real strings. */
            const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            for (i = 0; i < OPTION_COUNT && strcmp(key, option_names[i].name) != 0; i++)
                ;
            if (i < OPTION_COUNT) {
                values[i] = option_value(L, key);
                given[i] = 1;
            } else if (strcmp(key, "bind") == 0) {
                string_option(L, key, bind, &bind_len);
            } else if (strcmp(key, "key") == 0) {
                string_option(L, key, &seal_key, &key_len);
            } else {
                luaL_error(L, "unknown ruphin option '%s'", key);
            }
            lua_pop(L, 1);
        }
    }
    rc = ruphin_options_new(out);
    for (i = 0; rc == RUPHIN_OK && i < OPTION_COUNT; i++) {
        if (given[i])
            rc = ruphin_options_set(*out, option_names[i].id, values[i]);
    }
    if (rc == RUPHIN_OK && seal_key != NULL)
        rc = ruphin_options_set_key(*out, (const uint8_t *)seal_key, key_len);
    return rc;
}

/* ---- construction ---- */

/* Pushes an empty (closed) node userdata. Constructors push it before they
 * create the C node, so that running out of Lua memory cannot leak one. */
static lnode *push_lnode(lua_State *L)
{
    lnode *n = lua_newuserdata(L, sizeof *n);
    n->node = NULL;
    luaL_getmetatable(L, NODE_META);
    lua_setmetatable(L, -2);
    return n;
}

/* ruphin.holepuncher([bind [, options]]),
 * ruphin.server(holepuncher, session_id [, options]),
 * ruphin.client(holepuncher, session_id [, options]).
 * options.bind is the local address of a peer, and of a holepuncher given
 * no bind argument. */
static int new_node(lua_State *L, int32_t role)
{
    int options_idx = role == RUPHIN_ROLE_HOLEPUNCHER ? 2 : 3;
    const char *hp = NULL, *id = NULL, *bind = NULL, *option_bind;
    size_t id_len = 0;
    ruphin_options *options;
    ruphin_node *node = NULL;
    lnode *n;
    int32_t rc;

    if (role == RUPHIN_ROLE_HOLEPUNCHER) {
        bind = luaL_optstring(L, 1, NULL);
    } else {
        hp = luaL_checkstring(L, 1);
        id = luaL_checklstring(L, 2, &id_len);
    }
    lua_settop(L, options_idx); /* absent arguments become nils below the new userdata */
    n = push_lnode(L);
    rc = read_options(L, options_idx, &options, &option_bind);
    if (bind == NULL)
        bind = option_bind;
    if (rc == RUPHIN_OK && role == RUPHIN_ROLE_HOLEPUNCHER)
        rc = ruphin_holepuncher_new(&node, bind, options);
    else if (rc == RUPHIN_OK && role == RUPHIN_ROLE_SERVER)
        rc = ruphin_server_new(&node, hp, (const uint8_t *)id, id_len, bind, options);
    else if (rc == RUPHIN_OK)
        rc = ruphin_client_new(&node, hp, (const uint8_t *)id, id_len, bind, options);
    ruphin_options_free(options);
    if (rc != RUPHIN_OK)
        return fail(L, rc);
    n->node = node;
    return 1;
}

static int l_holepuncher(lua_State *L) { return new_node(L, RUPHIN_ROLE_HOLEPUNCHER); }
static int l_server(lua_State *L) { return new_node(L, RUPHIN_ROLE_SERVER); }
static int l_client(lua_State *L) { return new_node(L, RUPHIN_ROLE_CLIENT); }

/* ---- node methods ---- */

/* Pushes an address three ways: "host:port" (or "[v6]:port"), host, port;
 * three nils for no address. */
static void push_addr(lua_State *L, const ruphin_addr *a)
{
    char text[RUPHIN_ADDRSTRLEN];
    const char *host, *colon;
    if (a->family == 0 || ruphin_addr_format(a, text, sizeof text) <= 0) {
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
        return;
    }
    lua_pushstring(L, text);
    colon = strrchr(text, ':'); /* the port's: format always writes one */
    host = text[0] == '[' ? text + 1 : text;
    lua_pushlstring(L, host, (size_t)(colon - host) - (text[0] == '[' ? 1 : 0));
    lua_pushinteger(L, a->port);
}

static void push_event(lua_State *L, const ruphin_event *ev)
{
    lua_newtable(L);
    lua_pushstring(L, ruphin_event_name(ev->type));
    lua_setfield(L, -2, "type");
    push_addr(L, &ev->peer);
    lua_setfield(L, -4, "port");
    lua_setfield(L, -3, "host");
    lua_setfield(L, -2, "peer");
    if (ev->type == RUPHIN_EVENT_PATH_RESTORED && ev->len == sizeof(ruphin_addr)) {
        ruphin_addr previous; /* where the peer was before: "host:port" */
        memcpy(&previous, ev->data, sizeof previous);
        push_addr(L, &previous);
        lua_pop(L, 2);
        lua_setfield(L, -2, "previous");
    } else if (ev->len > 0) {
        lua_pushlstring(L, (const char *)ev->data, ev->len);
        lua_setfield(L, -2, "data");
    }
    if (ev->error != 0) {
        lua_pushstring(L, ruphin_strerror(ev->error));
        lua_setfield(L, -2, "error");
        lua_pushinteger(L, ev->error);
        lua_setfield(L, -2, "code");
    }
}

/* Seconds (number, default 0 = do not wait; a negative number waits for ever) to ms. */
static int32_t timeout_arg(lua_State *L, int idx)
{
    lua_Number s = luaL_optnumber(L, idx, 0);
    luaL_argcheck(L, s == s, idx, "timeout is NaN");
    if (s < 0)
        return RUPHIN_WAIT_FOREVER;
    return s * 1000 > 2147483647.0 ? 2147483647 : (int32_t)(s * 1000 + 0.999);
}

/* node:poll([seconds]) -> event table, or nil (nothing happened), or nil, message, code */
static int l_poll(lua_State *L)
{
    ruphin_node *node = check_node(L);
    ruphin_event ev;
    int32_t rc = ruphin_poll(node, timeout_arg(L, 2), &ev);
    if (rc < 0)
        return fail(L, rc);
    if (rc == 0)
        return 0;
    push_event(L, &ev);
    return 1;
}

/* Appends events to the array on top of the stack, which holds *n. */
static void append_events(lua_State *L, const ruphin_event *events, int32_t count, int *n)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        push_event(L, &events[i]);
        lua_rawseti(L, -2, ++*n);
    }
}

/* node:poll_many([seconds [, max]]) -> array of up to max (default and at
 * most 64) events, in one call into the core: waits for the first as poll
 * does, then takes those ready; empty when the time passed; or nil,
 * message, code. */
static int l_poll_many(lua_State *L)
{
    ruphin_node *node = check_node(L);
    ruphin_event events[RUPHIN_POLL_BATCH_MAX];
    int32_t timeout = timeout_arg(L, 2), rc;
    lua_Integer max = luaL_optinteger(L, 3, RUPHIN_POLL_BATCH_MAX);
    int n = 0;
    luaL_argcheck(L, max >= 1, 3, "max must be at least 1");
    rc = ruphin_poll_batch(node, timeout, events,
                           max > RUPHIN_POLL_BATCH_MAX ? RUPHIN_POLL_BATCH_MAX : (int32_t)max);
    if (rc < 0)
        return fail(L, rc);
    lua_newtable(L);
    append_events(L, events, rc, &n);
    return 1;
}

/* node:step() -> array of every event ready now, without waiting (call it
 * once per frame); on failure the events so far, then message and code. */
static int l_step(lua_State *L)
{
    ruphin_node *node = check_node(L);
    ruphin_event events[RUPHIN_POLL_BATCH_MAX];
    int32_t rc;
    int n = 0;
    lua_newtable(L);
    while ((rc = ruphin_poll_batch(node, 0, events, RUPHIN_POLL_BATCH_MAX)) > 0)
        append_events(L, events, rc, &n);
    if (rc < 0) {
        lua_pushstring(L, ruphin_strerror(rc));
        lua_pushinteger(L, rc);
        return 3;
    }
    return 1;
}

/* The destination of send and send_many: arguments idx ("host:port", or
 * host) and idx + 1 (port). *to is NULL when there is none (a client). */
static int32_t destination_args(lua_State *L, int idx, ruphin_addr *storage,
                                const ruphin_addr **to)
{
    const char *to_text = luaL_optstring(L, idx, NULL);
    lua_Integer port = luaL_optinteger(L, idx + 1, 0);
    luaL_argcheck(L, port >= 0 && port <= 65535, idx + 1, "port out of range");
    luaL_argcheck(L, port == 0 || to_text != NULL, idx + 1, "a port without a host");
    *to = to_text != NULL ? storage : NULL;
    /* with port 0, the text must carry the port */
    return to_text != NULL ? ruphin_addr_parse(to_text, (uint16_t)port, storage) : RUPHIN_OK;
}

/* node:send(data [, "host:port" | host, port]) -> true, or nil, message, code.
 * The address is a numeric one, as events give it; a client leaves it out. */
static int l_send(lua_State *L)
{
    ruphin_node *node = check_node(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    ruphin_addr storage;
    const ruphin_addr *to;
    int32_t rc = destination_args(L, 3, &storage, &to);
    if (rc == RUPHIN_OK)
        rc = ruphin_send(node, to, (const uint8_t *)data, len);
    if (rc != RUPHIN_OK)
        return fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* The strings of the array at idx, counted and checked; *total their bytes. */
static size_t count_strings(lua_State *L, int idx, size_t *total)
{
    size_t count = 0, len;
    *total = 0;
    for (;;) {
        lua_rawgeti(L, idx, (int)count + 1);
        if (lua_isnil(L, -1))
            break;
        luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, idx, "an array of strings");
        lua_tolstring(L, -1, &len);
        *total += len;
        count++;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return count;
}

/* node:send_many(array of strings [, "host:port" | host, port]) -> true, or
 * nil, message, code, sent: the datagrams go out in order with one call
 * into the core (and few system calls); the first that fails stops them,
 * and sent says how many went out before it. */
static int l_send_many(lua_State *L)
{
    ruphin_node *node = check_node(L);
    size_t count, total, i, off = 0, sent = 0, *lens;
    uint8_t *data;
    ruphin_addr storage;
    const ruphin_addr *to;
    int32_t rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    rc = destination_args(L, 3, &storage, &to);
    count = count_strings(L, 2, &total);
    /* The lengths, then the payloads back to back, in one block Lua frees. */
    lens = lua_newuserdata(L, count * sizeof *lens + total + 1);
    data = (uint8_t *)(lens + count);
    for (i = 0; i < count; i++) {
        const char *s;
        lua_rawgeti(L, 2, (int)i + 1);
        s = lua_tolstring(L, -1, &lens[i]);
        memcpy(data + off, s, lens[i]);
        off += lens[i];
        lua_pop(L, 1);
    }
    if (rc == RUPHIN_OK)
        rc = ruphin_send_batch(node, to, data, lens, count, &sent);
    if (rc != RUPHIN_OK) {
        fail(L, rc);
        lua_pushinteger(L, (lua_Integer)sent);
        return 4;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* node:close(): idempotent; also run by __gc and __close. */
static int l_close(lua_State *L)
{
    lnode *n = luaL_checkudata(L, 1, NODE_META);
    ruphin_close(n->node);
    n->node = NULL;
    return 0;
}

/* node:closed() -> true once close() ran (a closed node raises elsewhere) */
static int l_closed(lua_State *L)
{
    lnode *n = luaL_checkudata(L, 1, NODE_META);
    lua_pushboolean(L, n->node == NULL);
    return 1;
}

static int l_wake(lua_State *L)
{
    int32_t rc = ruphin_wake(check_node(L));
    if (rc != RUPHIN_OK)
        return fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_fileno(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)ruphin_fd(check_node(L)));
    return 1;
}

/* node:deadline() -> when poll must run again, in seconds on ruphin.now()'s
 * clock, or nil for no timer */
static int l_deadline(lua_State *L)
{
    int64_t ms = ruphin_deadline(check_node(L));
    if (ms == RUPHIN_NO_DEADLINE)
        return 0;
    lua_pushnumber(L, (lua_Number)ms / 1000.0);
    return 1;
}

/* node:timeout() -> seconds until poll must run again, or nil for no timer */
static int l_timeout(lua_State *L)
{
    int32_t ms = ruphin_timeout_ms(check_node(L));
    if (ms < 0)
        return 0;
    lua_pushnumber(L, ms / 1000.0);
    return 1;
}

static const char *const state_names[] = {"IDLE",      "REGISTERING", "REGISTERED",
                                          "JOINING",   "PUNCHING",    "CONNECTED",
                                          "FAILED",    "SERVING",     "RELAYED",
                                          "RECOVERING"};
_Static_assert(sizeof state_names / sizeof state_names[0] == RUPHIN_STATE_RECOVERING + 1,
               "a state of ruphin.h has no name here");

static int l_state(lua_State *L)
{
    int32_t s = ruphin_state(check_node(L));
    lua_pushstring(L, s >= 0 && s < (int32_t)(sizeof state_names / sizeof state_names[0])
                          ? state_names[s] : "UNKNOWN");
    return 1;
}

static int l_role(lua_State *L)
{
    static const char *const names[] = {"?", "holepuncher", "server", "client"};
    int32_t r = ruphin_role(check_node(L));
    lua_pushstring(L, names[r >= 1 && r <= 3 ? r : 0]);
    return 1;
}

/* node:local_address() -> "host:port", host, port */
static int l_local_address(lua_State *L)
{
    ruphin_addr a;
    int32_t rc = ruphin_local_addr(check_node(L), &a);
    if (rc != RUPHIN_OK)
        return fail(L, rc);
    push_addr(L, &a);
    return 3;
}

/* client:peer_address() -> "host:port", host, port of its server, or nil
 * while unknown */
static int l_peer_address(lua_State *L)
{
    ruphin_addr a;
    if (ruphin_peer_addr(check_node(L), &a) != RUPHIN_OK)
        return 0;
    push_addr(L, &a);
    return 3;
}

static int l_stats(lua_State *L)
{
    static const char *const names[] = {
        "rx_datagrams", "tx_datagrams", "rx_malformed", "rx_unexpected", "tx_failed",
        "events_dropped", "sessions", "sessions_refused", "register_conflicts", "peers",
        "rx_refused", "rx_rejected", "tx_dropped", "requests_register", "requests_join",
        "requests_hello", "requests_probe", "requests_unregister", "requests_relay",
        "refused_rate_limit", "refused_amplification", "refused_unproven_owner",
        "refused_relay_budget", "relayed_bytes", "relay_pairs"};
    _Static_assert(sizeof names / sizeof names[0] == RUPHIN_STAT_COUNT,
                   "a counter of ruphin.h has no name here");
    ruphin_node *node = check_node(L);
    int i;
    lua_newtable(L);
    for (i = 0; i < RUPHIN_STAT_COUNT; i++) {
        lua_pushinteger(L, (lua_Integer)ruphin_stat(node, i));
        lua_setfield(L, -2, names[i]);
    }
    return 1;
}

static int l_tostring(lua_State *L)
{
    lnode *n = luaL_checkudata(L, 1, NODE_META);
    lua_pushfstring(L, "ruphin.node (%s)", n->node ? "open" : "closed");
    return 1;
}

static int l_version(lua_State *L)
{
    lua_pushstring(L, ruphin_version());
    return 1;
}

/* ruphin.generate_key() -> a random key for sealed sessions, or nil, message */
static int l_generate_key(lua_State *L)
{
    uint8_t key[RUPHIN_KEY_LEN];
    int32_t rc = ruphin_key_generate(key, sizeof key);
    if (rc != RUPHIN_OK)
        return fail(L, rc);
    lua_pushlstring(L, (const char *)key, sizeof key);
    return 1;
}

/* ruphin.seal_supported() -> true when this build seals sessions (libsodium) */
static int l_seal_supported(lua_State *L)
{
    lua_pushboolean(L, ruphin_seal_supported());
    return 1;
}

/* ruphin.now() -> seconds on the monotonic clock of node:deadline() */
static int l_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)ruphin_now() / 1000.0);
    return 1;
}

static const luaL_Reg node_methods[] = {
    {"poll", l_poll},
    {"step", l_step},
    {"poll_many", l_poll_many},
    {"send", l_send},
    {"send_many", l_send_many},
    {"close", l_close},
    {"closed", l_closed},
    {"wake", l_wake},
    {"fileno", l_fileno},
    {"deadline", l_deadline},
    {"timeout", l_timeout},
    {"role", l_role},
    {"state", l_state},
    {"local_address", l_local_address},
    {"peer_address", l_peer_address},
    {"stats", l_stats},
    {NULL, NULL}};

static const luaL_Reg module_functions[] = {
    {"holepuncher", l_holepuncher},
    {"server", l_server},
    {"client", l_client},
    {"version", l_version},
    {"now", l_now},
    {"generate_key", l_generate_key},
    {"seal_supported", l_seal_supported},
    {NULL, NULL}};

#if defined(_WIN32)
#define LUA_MODULE_EXPORT __declspec(dllexport)
#else
#define LUA_MODULE_EXPORT __attribute__((visibility("default")))
#endif

/* ruphin.errors: NAME -> code, to compare with the code that failures return. */
static void push_error_codes(lua_State *L)
{
#define ERR(name) {#name, RUPHIN_ERR_##name}
    static const struct {
        const char *name;
        int32_t code;
    } codes[] = {
        ERR(INVALID), ERR(NOMEM), ERR(ADDRESS), ERR(SOCKET), ERR(ADDR_IN_USE),
        ERR(ADDR_NOT_AVAILABLE), ERR(PERMISSION), ERR(TOO_LARGE), ERR(NOT_CONNECTED),
        ERR(UNKNOWN_PEER), ERR(WOULD_BLOCK), ERR(IO), ERR(TIMEOUT), ERR(SESSION_NOT_FOUND),
        ERR(PEER_LOST), ERR(NOT_SUPPORTED), ERR(FAILED), ERR(BUFFER), ERR(ADDRESS_FAMILY),
        ERR(STOPPED), ERR(AUTH)};
#undef ERR
    size_t i;
    lua_newtable(L);
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        lua_pushinteger(L, codes[i].code);
        lua_setfield(L, -2, codes[i].name);
    }
}

LUA_MODULE_EXPORT int luaopen_ruphin(lua_State *L)
{
    luaL_newmetatable(L, NODE_META);
    lua_newtable(L);
    set_functions(L, node_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_newtable(L);
    set_functions(L, module_functions);
    lua_pushstring(L, RUPHIN_VERSION_STRING);
    lua_setfield(L, -2, "VERSION");
    push_error_codes(L);
    lua_setfield(L, -2, "errors");
    return 1;
}
