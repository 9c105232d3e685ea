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
};

/* Reads the options table at index idx (nil or absent: defaults) into a
 * new ruphin_options; "bind" is returned separately. Unknown keys raise. */
static int32_t read_options(lua_State *L, int idx, ruphin_options **out, const char **bind)
{
    int32_t rc = ruphin_options_new(out);
    *bind = NULL;
    if (rc != RUPHIN_OK || lua_isnoneornil(L, idx))
        return rc;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const char *key = lua_tostring(L, -2);
        size_t i;
        int found = 0;
        if (key != NULL && strcmp(key, "bind") == 0) {
            *bind = luaL_checkstring(L, -1);
            found = 1;
        }
        for (i = 0; !found && key && i < sizeof option_names / sizeof option_names[0]; i++) {
            if (strcmp(key, option_names[i].name) == 0) {
                lua_Integer v = lua_isboolean(L, -1) ? lua_toboolean(L, -1)
                                                     : luaL_checkinteger(L, -1);
                found = 1;
                if ((rc = ruphin_options_set(*out, option_names[i].id, (int64_t)v)) != RUPHIN_OK) {
                    lua_pop(L, 2);
                    return rc;
                }
            }
        }
        if (!found) {
            ruphin_options_free(*out);
            return luaL_error(L, "unknown ruphin option '%s'", key ? key : "?");
        }
        lua_pop(L, 1);
    }
    return RUPHIN_OK;
}

/* ---- construction ---- */

static int push_node(lua_State *L, ruphin_node *node)
{
    lnode *n = lua_newuserdata(L, sizeof *n);
    n->node = node;
    luaL_getmetatable(L, NODE_META);
    lua_setmetatable(L, -2);
    return 1;
}

/* ruphin.holepuncher([bind [, options]]) */
static int l_holepuncher(lua_State *L)
{
    const char *bind = luaL_optstring(L, 1, NULL), *ignored;
    ruphin_options *options;
    ruphin_node *node;
    int32_t rc = read_options(L, 2, &options, &ignored);
    if (rc == RUPHIN_OK)
        rc = ruphin_holepuncher_new(&node, bind, options);
    ruphin_options_free(options);
    return rc == RUPHIN_OK ? push_node(L, node) : fail(L, rc);
}

static int new_peer(lua_State *L, int32_t role)
{
    const char *hp = luaL_checkstring(L, 1), *bind;
    size_t id_len;
    const char *id = luaL_checklstring(L, 2, &id_len);
    ruphin_options *options;
    ruphin_node *node;
    int32_t rc = read_options(L, 3, &options, &bind);
    if (rc == RUPHIN_OK && role == RUPHIN_ROLE_SERVER)
        rc = ruphin_server_new(&node, hp, (const uint8_t *)id, id_len, bind, options);
    else if (rc == RUPHIN_OK)
        rc = ruphin_client_new(&node, hp, (const uint8_t *)id, id_len, bind, options);
    ruphin_options_free(options);
    return rc == RUPHIN_OK ? push_node(L, node) : fail(L, rc);
}

/* ruphin.server(holepuncher, session_id [, options]) */
static int l_server(lua_State *L) { return new_peer(L, RUPHIN_ROLE_SERVER); }
/* ruphin.client(holepuncher, session_id [, options]) */
static int l_client(lua_State *L) { return new_peer(L, RUPHIN_ROLE_CLIENT); }

/* ---- node methods ---- */

static void push_addr(lua_State *L, const ruphin_addr *a)
{
    char text[RUPHIN_ADDRSTRLEN];
    if (a->family != 0 && ruphin_addr_format(a, text, sizeof text) > 0)
        lua_pushstring(L, text);
    else
        lua_pushnil(L);
}

static void push_event(lua_State *L, const ruphin_event *ev)
{
    lua_newtable(L);
    lua_pushstring(L, ruphin_event_name(ev->type));
    lua_setfield(L, -2, "type");
    push_addr(L, &ev->peer);
    lua_setfield(L, -2, "peer");
    if (ev->len > 0) {
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

/* node:step() -> array of every event ready now, without waiting (call it
 * once per frame); on failure the events so far, then message and code. */
static int l_step(lua_State *L)
{
    ruphin_node *node = check_node(L);
    ruphin_event ev;
    int32_t rc;
    int n = 0;
    lua_newtable(L);
    while ((rc = ruphin_poll(node, 0, &ev)) == 1) {
        push_event(L, &ev);
        lua_rawseti(L, -2, ++n);
    }
    if (rc < 0) {
        lua_pushstring(L, ruphin_strerror(rc));
        lua_pushinteger(L, rc);
        return 3;
    }
    return 1;
}

/* node:send(data [, "host:port"]) -> true, or nil, message, code */
static int l_send(lua_State *L)
{
    ruphin_node *node = check_node(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    const char *to_text = luaL_optstring(L, 3, NULL);
    ruphin_addr to;
    int32_t rc = RUPHIN_OK;
    if (to_text != NULL)
        rc = ruphin_addr_parse(to_text, 0, &to);
    if (rc == RUPHIN_OK)
        rc = ruphin_send(node, to_text ? &to : NULL, (const uint8_t *)data, len);
    if (rc != RUPHIN_OK)
        return fail(L, rc);
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
                                          "FAILED",    "SERVING",     "RELAYED"};

static int l_state(lua_State *L)
{
    int32_t s = ruphin_state(check_node(L));
    lua_pushstring(L, s >= 0 && s < (int32_t)(sizeof state_names / sizeof state_names[0])
                          ? state_names[s] : "UNKNOWN");
    return 1;
}

static int l_local_address(lua_State *L)
{
    ruphin_addr a;
    int32_t rc = ruphin_local_addr(check_node(L), &a);
    if (rc != RUPHIN_OK)
        return fail(L, rc);
    push_addr(L, &a);
    return 1;
}

static int l_peer_address(lua_State *L)
{
    ruphin_addr a;
    if (ruphin_peer_addr(check_node(L), &a) != RUPHIN_OK)
        return 0;
    push_addr(L, &a);
    return 1;
}

static int l_stats(lua_State *L)
{
    static const char *const names[RUPHIN_STAT_COUNT] = {
        "rx_datagrams", "tx_datagrams", "rx_malformed", "rx_unexpected", "tx_failed",
        "events_dropped", "sessions", "sessions_refused", "register_conflicts", "peers",
        "rx_refused"};
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

static const luaL_Reg node_methods[] = {
    {"poll", l_poll},
    {"step", l_step},
    {"send", l_send},
    {"close", l_close},
    {"wake", l_wake},
    {"fileno", l_fileno},
    {"timeout", l_timeout},
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
    {NULL, NULL}};

#if defined(_WIN32)
#define LUA_MODULE_EXPORT __declspec(dllexport)
#else
#define LUA_MODULE_EXPORT __attribute__((visibility("default")))
#endif

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
    return 1;
}
