-- Checks of the Lua binding, run by tests/lua/test_lua.py under Lua 5.4 and
-- LuaJIT. Exits non-zero on the first failed check.
local ruphin = require("ruphin")

local checks = 0
local function check(cond, what)
    checks = checks + 1
    if not cond then
        io.stderr:write("FAILED: " .. what .. "\n")
        os.exit(1)
    end
end

check(ruphin.version() == ruphin.VERSION, "version()")

-- Runtime failures: nil, message, code.
local node, msg, code = ruphin.client("no-such-host.invalid:1", "x")
check(node == nil and msg:find("address") and code == ruphin.errors.ADDRESS, "nil, message, code")
node, msg = ruphin.holepuncher("127.0.0.1:0", { max_payload = 999999 })
check(node == nil and msg == "invalid argument", "bad option value")

-- Programming mistakes raise.
check(not pcall(ruphin.client, nil, "x"), "missing holepuncher raises")
check(not pcall(ruphin.holepuncher, "127.0.0.1:0", { no_such_option = 1 }), "unknown option raises")
check(not pcall(ruphin.holepuncher, "127.0.0.1:0", { 5 }), "a number key raises")
check(not pcall(ruphin.holepuncher, "127.0.0.1:0", { keepalive_ms = 1.5 }), "a fraction raises")
check(not pcall(ruphin.holepuncher, "127.0.0.1:0", { keepalive_ms = "soon" }), "a word raises")
check(not pcall(ruphin.holepuncher, "127.0.0.1:0", { keepalive_ms = 2^70 }), "a huge value raises")
check(not pcall(ruphin.client, "127.0.0.1:1", "x", { bind = 5 }), "a numeric bind raises")
local opt_hp = assert(ruphin.holepuncher(nil, { bind = "127.0.0.1:0", extensions = false }))
check(select(2, opt_hp:local_address()) == "127.0.0.1", "options.bind for the holepuncher")
check(opt_hp:role() == "holepuncher", "role")
check(not pcall(opt_hp.poll, opt_hp, 0 / 0), "a NaN timeout raises")
check(not pcall(opt_hp.send, opt_hp, "x", "127.0.0.1", 70000), "a port out of range raises")
opt_hp:close()

local fast = { retransmit_ms = 20, punch_interval_ms = 20 }

-- session_events = false: the holepuncher serves and reports no session.
do
    local quiet_hp = assert(ruphin.holepuncher("127.0.0.1:0", { session_events = false }))
    local quiet_server = assert(ruphin.server(quiet_hp:local_address(), "quiet", fast))
    local reported, registered, start = 0, false, os.time()
    while not registered and os.time() - start < 5 do
        reported = reported + #quiet_hp:step()
        for _, e in ipairs(quiet_server:step()) do registered = registered or e.type == "REGISTERED" end
    end
    check(registered and reported == 0, "session_events = false: registered, nothing reported")
    check(quiet_hp:stats().sessions == 1, "session_events = false: the session is held")
    quiet_server:close()
    quiet_hp:close()
end
local hp = assert(ruphin.holepuncher("127.0.0.1:0", fast))
check(hp:state() == "SERVING", "state")
check(hp:closed() == false, "closed() while open")
check(type(hp:fileno()) == "number", "fileno")
check(hp:timeout() == 0, "a new node wants its first poll at once")
check(hp:poll(0) == nil, "poll(0) with nothing to do")
check(hp:timeout() == nil, "no timer on an idle holepuncher")
check(hp:deadline() == nil, "no deadline on an idle holepuncher")
local hp_text, hp_host, hp_port = hp:local_address()
check(hp_host == "127.0.0.1" and hp_text == "127.0.0.1:" .. hp_port, "local_address parts")
local _, err = hp:send("x")
check(err == "operation not supported by this role", "holepuncher cannot send")

local server = assert(ruphin.server(hp_text, "lua", fast))
check(server:deadline() <= ruphin.now(), "a new node's deadline is now")
local client

-- Drives everything for up to 5 s until pred(event, who) is true.
local function run_until(pred)
    local start = os.time()
    while os.time() - start < 5 do
        for _, pair in ipairs({ { hp, "hp" }, { server, "server" }, { client, "client" } }) do
            local n, who = pair[1], pair[2]
            if n then
                for _, ev in ipairs(n:step()) do
                    if who == "server" and ev.type == "DATA" then assert(server:send(ev.data, ev.peer)) end
                    if pred(ev, who) then return ev end
                end
            end
        end
    end
    error("timed out")
end

run_until(function(ev, who) return who == "server" and ev.type == "REGISTERED" end)
client = assert(ruphin.client(hp:local_address(), "lua", fast))
local ev = run_until(function(ev, who) return who == "client" and ev.type == "CONNECTED" end)
check(ev.peer == client:peer_address(), "CONNECTED names the server")
check(ev.host == "127.0.0.1" and ev.peer == ev.host .. ":" .. ev.port, "event host and port")
check(client:role() == "client" and client:state() == "CONNECTED", "client role and state")
local deadline = client:deadline()
check(deadline and deadline > ruphin.now() - 1, "a connected client keeps a timer")
check(client:send(string.rep("\0", 1024)), "send binary payload")
ev = run_until(function(ev, who) return who == "client" and ev.type == "DATA" end)
check(ev.data == string.rep("\0", 1024), "payload round trip")
_, err = client:send(string.rep("x", 1025))
check(err == "payload larger than the maximum payload", "too large")
-- The server answers with host and port apart, as LuaSocket-style code would.
local _, _, client_port = client:local_address() -- bound to the wildcard address
check(server:send("apart", "127.0.0.1", client_port), "send(data, host, port)")
ev = run_until(function(e, who) return who == "client" and e.type == "DATA" end)
check(ev.data == "apart", "send(data, host, port) arrives")
local _, _, code = server:send("x", "127.0.0.1", 9)
check(code == ruphin.errors.UNKNOWN_PEER, "unknown peer")
check(server:stats().peers == 1, "stats")

-- The data path in bulk: send_many and poll_many.
local function data_at(node, count)
    local got, most, t = {}, 0, os.time()
    while #got < count and os.time() - t < 5 do
        local evs = assert(node:poll_many(0.01))
        if #evs > most then most = #evs end
        for _, e in ipairs(evs) do
            if e.type == "DATA" then got[#got + 1] = e.data end
        end
    end
    return got, most
end
local batch = {}
for i = 1, 100 do batch[i] = ("%03d"):format(i) .. string.rep("b", i) end
check(client:send_many(batch), "send_many")
local got, most = data_at(server, 100)
local in_order = #got == 100
for i = 1, #got do in_order = in_order and got[i] == batch[i] end
check(in_order, "send_many: every datagram arrives, in order")
check(most > 1 and most <= 64, "poll_many takes many events per call")
check(server:send_many({ "x", "y" }, "127.0.0.1", client_port), "server send_many(list, host, port)")
got = data_at(client, 2)
check(got[1] == "x" and got[2] == "y", "server send_many arrives")
local ok, fmsg, fcode, sent = client:send_many({ "one", "two", string.rep("x", 1025), "never" })
check(ok == nil and fmsg and fcode == ruphin.errors.TOO_LARGE and sent == 2,
      "the first failure stops send_many; sent says how many went")
got = data_at(server, 2)
check(got[1] == "one" and got[2] == "two" and #server:poll_many(0.05) == 0, "only those went")
check(client:send_many({}), "an empty send_many")
check(not pcall(client.send_many, client, { "a", 5 }), "send_many takes strings only")
check(not pcall(server.poll_many, server, 0, 0), "poll_many wants max >= 1")

-- A missing session is reported as a FAILED event, then poll fails.
local lost = assert(ruphin.client(hp:local_address(), "missing", fast))
local failed
local start = os.time()
while not failed and os.time() - start < 5 do
    hp:step()
    for _, e in ipairs(lost:step()) do
        if e.type == "FAILED" then failed = e end
    end
end
check(failed and failed.error == "the holepuncher has no such session", "session not found")
local none, perr = lost:poll(0)
check(none == nil and perr == "the node has failed earlier", "poll after failure")
local events, serr, scode = lost:step()
check(type(events) == "table" and #events == 0 and serr == "the node has failed earlier"
      and scode == ruphin.errors.FAILED, "step after failure: the events so far, message, code")

-- close is idempotent; a closed node raises when used.
lost:close()
lost:close()
check(not pcall(lost.poll, lost), "closed node raises")
check(tostring(lost) == "ruphin.node (closed)", "tostring")
check(lost:closed() == true and opt_hp:closed() == true, "closed() after close")

-- Garbage collection closes forgotten nodes: the port is free again.
local forgotten = assert(ruphin.holepuncher("127.0.0.1:0"))
local forgotten_addr = forgotten:local_address()
local _, _, again_code = ruphin.holepuncher(forgotten_addr)
check(again_code == ruphin.errors.ADDR_IN_USE, "the port is taken while the node lives")
forgotten = nil -- luacheck: ignore
collectgarbage()
collectgarbage()
local again = ruphin.holepuncher(forgotten_addr)
check(again ~= nil, "__gc closed the forgotten node's socket")
again:close()

-- Sealed sessions: a shared key; a client with another key never connects.
if ruphin.seal_supported() then
  local key = assert(ruphin.generate_key())
  check(#key == 32 and key ~= ruphin.generate_key(), "generate_key gives fresh 32-byte keys")
  local _, short_msg, short_code = ruphin.client(hp_text, "s", { key = "short" })
  check(short_code == ruphin.errors.INVALID and short_msg, "a short key is refused")
  local sealed = { retransmit_ms = 20, punch_interval_ms = 20, key = key,
                   handshake_timeout_ms = 1000 }
  local s_server = assert(ruphin.server(hp_text, "sealed", sealed))
  local registered = false
  local t_reg = os.time()
  while not registered and os.time() - t_reg < 5 do
    hp:poll(0)
    local ev = s_server:poll(0)
    registered = ev ~= nil and ev.type == "REGISTERED"
  end
  local s_client = assert(ruphin.client(hp_text, "sealed", sealed))
  local intruder = assert(ruphin.client(hp_text, "sealed", {
    retransmit_ms = 20, punch_interval_ms = 20, handshake_timeout_ms = 1000,
    key = ruphin.generate_key() }))
  local seen = {}
  local t0 = os.time()
  while not (seen.data and seen.intruder_failed) and os.time() - t0 < 10 do
    hp:poll(0)
    local ev = s_server:poll(0)
    if ev and ev.type == "DATA" then seen.data = ev.data end
    ev = s_client:poll(0)
    if ev and ev.type == "CONNECTED" then assert(s_client:send("sealed from lua")) end
    ev = intruder:poll(0)
    if ev and ev.type == "FAILED" then seen.intruder_failed = ev.code end
  end
  check(seen.data == "sealed from lua", "sealed peers exchange datagrams")
  check(seen.intruder_failed == ruphin.errors.AUTH, "a client with another key fails: AUTH")
  check(s_server:stats().rx_rejected > 0, "the intruder's hellos are rejected and counted")
  s_client:close(); s_server:close(); intruder:close()
else
  check(select(3, ruphin.generate_key()) == ruphin.errors.NOT_SUPPORTED,
        "without libsodium, keys are not supported")
end

client:close(); server:close(); hp:close()
print(("%d checks passed"):format(checks))
