-- A holepuncher, a server and a client on loopback, driven from one frame
-- loop the way a game would: each frame calls step() on every node. The
-- client sends datagrams, the server echoes them. Exits 0 on success.
local ruphin = require("ruphin")

local fast = { retransmit_ms = 20, punch_interval_ms = 20 }
local hp = assert(ruphin.holepuncher("127.0.0.1:0", fast))
local server = assert(ruphin.server(hp:local_address(), "lua-demo", fast))
local client = nil
local echoed, frames = 0, 0

local function frame()
    for _, ev in ipairs(hp:step()) do
        print("holepuncher", ev.type, ev.peer)
    end
    for _, ev in ipairs(server:step()) do
        if ev.type == "REGISTERED" and not client then
            client = assert(ruphin.client(hp:local_address(), "lua-demo", fast))
        elseif ev.type == "DATA" then
            assert(server:send(ev.data, ev.peer))
        end
    end
    if client then
        for _, ev in ipairs(client:step()) do
            print("client", ev.type, ev.peer, ev.data)
            if ev.type == "CONNECTED" then
                for i = 1, 3 do assert(client:send("frame " .. i)) end
            elseif ev.type == "DATA" then
                echoed = echoed + 1
            elseif ev.type == "FAILED" then
                error("client failed: " .. ev.error)
            end
        end
    end
end

-- Stands in for the rest of a game frame: a millisecond of other work
-- (plain Lua has no sleep; os.execute("sleep") would not run on Windows).
local function rest_of_frame()
    local done = ruphin.now() + 0.001 -- seconds
    while ruphin.now() < done do end
end

while echoed < 3 and frames < 5000 do
    frame()
    frames = frames + 1
    rest_of_frame()
end
client:close(); server:close(); hp:close()
print(("echoed %d datagrams in %d frames"):format(echoed, frames))
os.exit(echoed == 3 and 0 or 1)
