-- One role of the interop matrix, in Lua (5.4 or LuaJIT).
--   role.lua hp LISTEN | server HP SESSION | client HP SESSION COUNT
-- Prints READY when serving (hp, server); the client prints RECEIVED n.
local ruphin = require("ruphin")
local fast = { retransmit_ms = 20, punch_interval_ms = 20 }
local role, a, b, c = ...

local function wait_for(node, wanted)
    while true do
        local ev, err = node:poll(-1)
        assert(ev or not err, err)
        if ev and ev.type == "FAILED" then error(ev.error) end
        if ev and ev.type == wanted then return ev end
    end
end

if role == "hp" then
    local hp = assert(ruphin.holepuncher(a, fast))
    print("READY"); io.stdout:flush()
    while true do hp:poll(-1) end
elseif role == "server" then
    local server = assert(ruphin.server(a, b, fast))
    wait_for(server, "REGISTERED")
    print("READY"); io.stdout:flush()
    while true do
        local ev = wait_for(server, "DATA")
        assert(server:send(ev.data, ev.peer))
    end
else
    local client = assert(ruphin.client(a, b, fast))
    wait_for(client, "CONNECTED")
    local received = 0
    for i = 1, tonumber(c) do
        assert(client:send("lua " .. i))
        local ev = client:poll(2)
        while ev and ev.type ~= "DATA" do ev = client:poll(2) end
        if ev and ev.data == "lua " .. i then received = received + 1 end
    end
    print("RECEIVED " .. received); io.stdout:flush()
    os.exit(received > 0 and 0 or 1)
end
