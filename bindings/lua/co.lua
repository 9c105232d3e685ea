-- ruphin.co: coroutines over ruphin nodes for game loops, without threads.
--
--   local co = require("ruphin.co")
--   local loop = co.loop()
--   loop:spawn(function()
--       local client = loop:add(assert(ruphin.client(hp, "game")))
--       local ev, err = loop:wait(client, "CONNECTED", 5)
--       ...
--   end)
--   -- in the game's frame callback:
--   loop:step()
--
-- step() polls every added node once without blocking and resumes the
-- coroutines whose awaited event arrived (or whose time ran out).
local ruphin = require("ruphin")

local co = {}

local Loop = {}
Loop.__index = Loop

-- Timeouts run on ruphin.now(), a wall (monotonic) clock: os.clock() counts
-- CPU time, which stands still while a game sleeps between frames.
function co.loop()
    return setmetatable({ nodes = {}, waiting = {}, clock = ruphin.now }, Loop)
end

-- Drives node from step(); returns it.
function Loop:add(node)
    self.nodes[#self.nodes + 1] = node
    return node
end

-- Runs fn(...) as a coroutine now; it runs until its first wait.
function Loop:spawn(fn, ...)
    local thread = coroutine.create(fn)
    local ok, err = coroutine.resume(thread, ...)
    if not ok then error(err, 2) end
    return thread
end

-- Inside a spawned coroutine: yields until node reports an event of type
-- wanted (returns the event), FAILED (returns nil, message) or timeout
-- seconds pass (returns nil, "timeout").
function Loop:wait(node, wanted, timeout)
    local thread = coroutine.running()
    assert(thread, "wait() must run inside a coroutine started with spawn()")
    self.waiting[#self.waiting + 1] = {
        thread = thread, node = node, wanted = wanted,
        deadline = timeout and (self.clock() + timeout) or nil,
    }
    return coroutine.yield()
end

local function resume(entry, ...)
    local ok, err = coroutine.resume(entry.thread, ...)
    if not ok then error(err, 0) end
end

-- Takes the waiter of node for event type t (or any waiter of node on FAILED).
function Loop:take_waiter(node, t)
    for i, w in ipairs(self.waiting) do
        if w.node == node and (w.wanted == t or t == "FAILED") then
            table.remove(self.waiting, i)
            return w
        end
    end
end

-- One frame: poll every node without waiting, wake whoever waited.
function Loop:step()
    for _, node in ipairs(self.nodes) do
        local events, err = node:step()
        for _, ev in ipairs(events) do
            local w = self:take_waiter(node, ev.type)
            if w and ev.type == "FAILED" and w.wanted ~= "FAILED" then
                resume(w, nil, ev.error)
            elseif w then
                resume(w, ev)
            end
        end
        if err then
            local w = self:take_waiter(node, "FAILED")
            if w then resume(w, nil, err) end
        end
    end
    local now = self.clock()
    for i = #self.waiting, 1, -1 do
        local w = self.waiting[i]
        if w.deadline and now >= w.deadline then
            table.remove(self.waiting, i)
            resume(w, nil, "timeout")
        end
    end
    return #self.waiting
end

return co
