-- ruphin.co: a server and a client written as straight-line coroutines,
-- driven by one step() per frame. Exits non-zero on failure.
local ruphin = require("ruphin")
local co = require("ruphin.co")

local fast = { retransmit_ms = 20, punch_interval_ms = 20 }
local loop = co.loop()
local hp = loop:add(assert(ruphin.holepuncher("127.0.0.1:0", fast)))
local hp_addr = hp:local_address()
local result

loop:spawn(function()
    local server = loop:add(assert(ruphin.server(hp_addr, "co", fast)))
    assert(loop:wait(server, "REGISTERED", 5))
    loop:spawn(function()
        local client = loop:add(assert(ruphin.client(hp_addr, "co", fast)))
        assert(loop:wait(client, "CONNECTED", 5))
        assert(client:send("hello, coroutine"))
        local ev = assert(loop:wait(client, "DATA", 5))
        result = ev.data
    end)
    local ev = assert(loop:wait(server, "DATA", 5))
    assert(server:send(ev.data, ev.peer))
end)

loop:spawn(function()
    local missing = loop:add(assert(ruphin.client(hp_addr, "missing", fast)))
    local ev, err = loop:wait(missing, "CONNECTED", 5)
    assert(ev == nil and err == "the holepuncher has no such session", err)
end)

loop:spawn(function()
    local ev, err = loop:wait(hp, "NEVER", 0.05)
    assert(ev == nil and err == "timeout")
end)

local frames = 0
while (result == nil or loop:step() > 0) and frames < 20000 do
    loop:step()
    frames = frames + 1
end
assert(result == "hello, coroutine", "no echo")
print("coroutines done in " .. frames .. " frames")
