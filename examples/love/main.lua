-- A two-player LÖVE game over ruphin: each player is a dot that circles by
-- itself (the arrow keys push it too); every frame it sends its position to
-- the other player, whose dot it draws. The server player opens the session,
-- the client player joins it:
--
--   ruphin holepuncher --listen 127.0.0.1:47470
--   love examples/love --holepuncher 127.0.0.1:47470 --session dots --role server
--   love examples/love --holepuncher 127.0.0.1:47470 --session dots --role client
--
-- (start the server first: a client that joins a session nobody opened yet
-- fails). --frames N quits after N frames, with exit code 0 only if state
-- went both ways: positions came from the other player, and the other player
-- echoed back a frame number of ours, proof that ours reached it.
-- Exit codes: 0, 1 (runtime failure), 2 (usage). Messages go to standard
-- error, one line each, starting with "ruphin-love:"; progress to standard
-- output.
--
-- The networking is ruphin's: the game keeps a ruphin.co loop, writes each
-- player's protocol-free part as a coroutine (join, then take datagrams), and
-- steps the loop once per frame in love.update. Nothing here blocks.
local cli = require("cli")

local FPS = 60
local ruphin, co -- loaded in love.load, where a missing module is reported

io.stdout:setvbuf("line")

local game = {
    frame = 0,       -- frames run
    t = 0,           -- seconds of play, for the circle
    me = { x = 0, y = 0, dx = 0, dy = 0 }, -- dx, dy: where the arrow keys pushed us
    other = nil,     -- {x =, y =}: the other player's last position
    peer = nil,      -- the other player's "host:port" (a client: its server's)
    seen = 0,        -- the latest frame number received from the other player
    received = 0,    -- positions received
    acked = 0,       -- the latest frame of ours that the other player echoed
    over = false,
}

local function say(fmt, ...) print(("ruphin-love: " .. fmt):format(...)) end

-- Ends the game: one line on standard error, exit code code.
local function quit(code, fmt, ...)
    if game.over then return end
    game.over = true
    if fmt then io.stderr:write(("ruphin-love: " .. fmt):format(...), "\n") end
    love.event.quit(code) -- love.quit closes the node
end

-- A position datagram: "dot FRAME X Y SEEN", SEEN being the latest frame
-- number we received from the other player (0: none yet).
local function encode()
    return ("dot %d %.1f %.1f %d"):format(game.frame, game.me.x, game.me.y, game.seen)
end

local function take(data)
    local frame, x, y, seen = data:match("^dot (%d+) (%-?[%d.]+) (%-?[%d.]+) (%d+)$")
    frame = tonumber(frame)
    if not frame or frame <= game.seen then return end -- not ours, or late
    game.seen, game.received = frame, game.received + 1
    game.other = { x = tonumber(x), y = tonumber(y) }
    game.acked = math.max(game.acked, math.min(tonumber(seen), game.frame))
end

-- The other player's datagrams, until the node fails.
local function receive(loop, node)
    while true do
        local ev, err = loop:wait(node, "DATA")
        if not ev and game.received > 0 and game.acked > 0 then
            -- The other player left after state went both ways (a closing
            -- peer says so, and its node then fails at once): play on alone.
            say("the other player left (%s)", err)
            game.peer = nil
            return
        end
        if not ev then return quit(1, "lost the other player: %s", err) end
        if ev.peer == game.peer then take(ev.data) end
    end
end

local function serve(loop, opts)
    local node, err = ruphin.server(opts.holepuncher, opts.session)
    if not node then return quit(1, "cannot start a server: %s", err) end
    game.node = loop:add(node)
    local ev
    ev, err = loop:wait(node, "REGISTERED")
    if not ev then
        return quit(1, "cannot open session %q at %s: %s", opts.session, opts.holepuncher, err)
    end
    say("registered session %q; waiting for the other player", opts.session)
    loop:spawn(function() -- the latest client to connect is the other player
        while true do
            local joined = loop:wait(node, "CONNECTED")
            if not joined then return end
            game.peer, game.other, game.seen, game.acked = joined.peer, nil, 0, 0
            say("the other player joined from %s", joined.peer)
        end
    end)
    loop:spawn(function()
        while true do
            local left = loop:wait(node, "DISCONNECTED")
            if not left then return end
            if left.peer == game.peer then
                game.peer, game.other = nil, nil
                say("the other player left")
            end
        end
    end)
    receive(loop, node)
end

local function join(loop, opts)
    local node, err = ruphin.client(opts.holepuncher, opts.session)
    if not node then return quit(1, "cannot start a client: %s", err) end
    game.node = loop:add(node)
    local ev
    ev, err = loop:wait(node, "CONNECTED")
    if not ev then
        return quit(1, "cannot join session %q at %s: %s", opts.session, opts.holepuncher, err)
    end
    game.peer = ev.peer
    say("joined session %q; the other player is at %s", opts.session, ev.peer)
    receive(loop, node)
end

-- A Lua error ends the game with its message (instead of LÖVE's error
-- screen, which would wait for a key in a headless run).
function love.errorhandler(msg)
    io.stderr:write("ruphin-love: error: ", tostring(msg), "\n",
                    (debug.traceback("", 2):gsub("^\n", "")), "\n")
end

function love.load(args)
    local opts, why = cli.parse(args)
    if not opts then return quit(2, "%s; %s", why, cli.USAGE) end
    local loaded, module = pcall(require, "ruphin")
    if not loaded then
        return quit(1, "cannot load the ruphin module: %s (docs/BINDINGS.md tells where"
                    .. " LÖVE looks for it)", (tostring(module):gsub(":?\n.*", "")))
    end
    ruphin, co = module, require("ruphin.co")
    game.opts = opts
    game.loop = co.loop()
    love.window.setTitle(("ruphin: %s of %q"):format(opts.role, opts.session))
    game.loop:spawn(opts.role == "server" and serve or join, game.loop, opts)
end

-- Waits out the rest of the frame: FPS frames a second.
local next_frame
local function pace()
    local now = love.timer.getTime()
    next_frame = math.max((next_frame or now) + 1 / FPS, now)
    love.timer.sleep(next_frame - now)
end

local function finish()
    local opts = game.opts
    if not game.peer and game.received == 0 then
        return quit(1, "no other player in session %q after %d frames", opts.session, game.frame)
    elseif game.received == 0 then
        return quit(1, "no position came from the other player in %d frames", game.frame)
    elseif game.acked == 0 then
        return quit(1, "the other player never echoed one of our %d frames", game.frame)
    end
    say("%d frames: %d positions received, the other player saw our frame %d",
        game.frame, game.received, game.acked)
    quit(0)
end

function love.update(dt)
    if game.over then return end
    pace()
    game.frame, game.t = game.frame + 1, game.t + dt
    local w, h = love.graphics.getDimensions()
    local kb, speed = love.keyboard, 120 * dt
    if kb.isDown("left") then game.me.dx = game.me.dx - speed end
    if kb.isDown("right") then game.me.dx = game.me.dx + speed end
    if kb.isDown("up") then game.me.dy = game.me.dy - speed end
    if kb.isDown("down") then game.me.dy = game.me.dy + speed end
    local phase = game.opts.role == "server" and 0 or math.pi
    game.me.x = w / 2 + math.cos(game.t + phase) * h / 3 + game.me.dx
    game.me.y = h / 2 + math.sin(game.t + phase) * h / 3 + game.me.dy

    game.loop:step() -- takes what arrived, runs the coroutines
    if game.over then return end
    if game.peer then
        -- A lost datagram is replaced by the next frame's: a failed send
        -- needs no retry, and a failure of the node comes as its FAILED event.
        if game.opts.role == "server" then
            game.node:send(encode(), game.peer)
        else
            game.node:send(encode())
        end
    end
    if game.opts.frames and game.frame >= game.opts.frames then finish() end
end

function love.draw()
    if not game.opts then return end
    local g = love.graphics
    if game.other then
        g.setColor(1, 0.5, 0.2)
        g.circle("fill", game.other.x, game.other.y, 10)
    end
    g.setColor(0.3, 0.8, 1)
    g.circle("fill", game.me.x, game.me.y, 10)
    g.setColor(1, 1, 1)
    g.print(game.peer and ("%s, with %s"):format(game.opts.role, game.peer)
            or ("%s: waiting for the other player"):format(game.opts.role), 4, 4)
end

function love.keypressed(key)
    if key == "escape" then quit(0) end
end

function love.quit()
    if game.node and not game.node:closed() then game.node:close() end
end
