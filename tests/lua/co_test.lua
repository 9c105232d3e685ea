-- ruphin.co: a server and a client written as straight-line coroutines,
-- driven by one step() per frame. Exits non-zero on failure.
local ruphin = require("ruphin")
local co = require("ruphin.co")

local fast = { retransmit_ms = 20, punch_interval_ms = 20 }
local loop = co.loop()
local hp = loop:add(assert(ruphin.holepuncher("127.0.0.1:0", fast)))
local hp_addr = hp:local_address()
local result, kept

loop:spawn(function()
    local server = loop:add(assert(ruphin.server(hp_addr, "co", fast)))
    assert(loop:wait(server, "REGISTERED", 5))
    loop:spawn(function()
        local client = loop:add(assert(ruphin.client(hp_addr, "co", fast)))
        assert(loop:wait(client, "CONNECTED", 5))
        assert(client:send("hello, coroutine"))
        local ev = assert(loop:wait(client, "DATA", 5))
        result = ev.data
        assert(client:send("first"))
        assert(client:send("second"))
    end)
    local ev = assert(loop:wait(server, "DATA", 5))
    assert(server:send(ev.data, ev.peer))
    -- Datagrams that arrive while this coroutine waits for something else
    -- are kept for its next wait on the server.
    ev = assert(loop:wait(server, "DATA", 5))
    assert(ev.data == "first", ev.data)
    assert(select(2, loop:wait(hp, "NEVER", 0.2)) == "timeout")
    ev = assert(loop:wait(server, "DATA", 5))
    kept = ev.data
end)

local failures = 0
loop:spawn(function()
    local missing = loop:add(assert(ruphin.client(hp_addr, "missing", fast)))
    local ev, err = loop:wait(missing, "CONNECTED", 5)
    assert(ev == nil and err == "the holepuncher has no such session", err)
    -- The failure stays: a later wait gets it at once.
    ev, err = loop:wait(missing, "DATA")
    assert(ev == nil and err == "the holepuncher has no such session", err)
    failures = failures + 1
end)

-- A node closed or removed while coroutines wait on it: they get nil and
-- why, and step() goes on.
local ended = {}
for _, how in ipairs({ "closed", "removed" }) do
    local node = loop:add(assert(ruphin.holepuncher("127.0.0.1:0")))
    loop:spawn(function()
        local ev, why = loop:wait(node, "NEVER")
        assert(ev == nil)
        ended[#ended + 1] = why
    end)
    if how == "closed" then node:close() else loop:remove(node) end
end

loop:spawn(function()
    local ev, err = loop:wait(hp, "NEVER", 0.05)
    assert(ev == nil and err == "timeout")
end)

-- Bounded by time, not frames: a frame never waits, so the count of frames
-- that the 0.2 s wait above spans depends on the interpreter's speed (LuaJIT
-- needs some 30000; a cap of 20000 frames failed there).
local frames, start = 0, ruphin.now()
while (kept == nil or loop:step() > 0) and ruphin.now() < start + 10 do
    loop:step()
    frames = frames + 1
end
assert(result == "hello, coroutine", "no echo")
assert(kept == "second", "a datagram nobody waited for was lost")
assert(failures == 1, "the failure did not stay")
assert(ended[1] == "removed" and ended[2] == "closed", table.concat(ended, ","))
print("coroutines done in " .. frames .. " frames")
