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
-- coroutines whose awaited event arrived (or whose time ran out). An event
-- nobody waits for yet is kept for the next wait on its node (the latest
-- co.BACKLOG per node); a FAILED event stays for every later wait.
local ruphin = require("ruphin")

local co = { BACKLOG = 256 }

local Loop = {}
Loop.__index = Loop

-- Timeouts run on ruphin.now(), a wall (monotonic) clock: os.clock() counts
-- CPU time, which stands still while a game sleeps between frames.
function co.loop()
    return setmetatable({ nodes = {}, backlog = {}, waiting = {}, clock = ruphin.now }, Loop)
end

-- Drives node from step(); returns it.
function Loop:add(node)
    if not self.backlog[node] then
        self.nodes[#self.nodes + 1] = node
        self.backlog[node] = {}
    end
    return node
end

local function resume(thread, ...)
    local ok, err = coroutine.resume(thread, ...)
    if not ok then error(err, 0) end
end

-- Stops driving node (do it before closing the node, or step() notices the
-- close): its waiters get nil, why ("removed" unless told).
function Loop:remove(node, why)
    if not self.backlog[node] then return end
    self.backlog[node] = nil
    for i, n in ipairs(self.nodes) do
        if n == node then table.remove(self.nodes, i) break end
    end
    local woken = {}
    for i = #self.waiting, 1, -1 do
        if self.waiting[i].node == node then
            table.insert(woken, 1, table.remove(self.waiting, i))
        end
    end
    for _, w in ipairs(woken) do resume(w.thread, nil, why or "removed") end
end

-- Runs fn(...) as a coroutine now; it runs until its first wait.
function Loop:spawn(fn, ...)
    local thread = coroutine.create(fn)
    local ok, err = coroutine.resume(thread, ...)
    if not ok then error(err, 2) end
    return thread
end

-- Takes the first kept event of type wanted, or finds the FAILED event
-- (which stays, for every later wait). Returns the event, or nil.
local function claim(queue, wanted)
    for i, ev in ipairs(queue) do
        if ev.type == "FAILED" then return ev end
        if ev.type == wanted then return table.remove(queue, i) end
    end
end

-- What wait returns for ev.
local function outcome(ev, wanted)
    if ev.type == "FAILED" and wanted ~= "FAILED" then return nil, ev.error end
    return ev
end

-- Inside a spawned coroutine: returns the next event of type wanted from
-- node (at once if one is kept), or nil and the message once it failed, or
-- nil, "timeout" after timeout seconds.
function Loop:wait(node, wanted, timeout)
    local thread = coroutine.running()
    assert(thread, "wait() must run inside a coroutine started with spawn()")
    local queue = assert(self.backlog[node], "wait() on a node the loop does not drive")
    local ev = claim(queue, wanted)
    if ev then return outcome(ev, wanted) end
    self.waiting[#self.waiting + 1] = {
        thread = thread, node = node, wanted = wanted,
        deadline = timeout and (self.clock() + timeout) or nil,
    }
    return coroutine.yield()
end

-- Keeps ev for node's waiters, the latest co.BACKLOG at most.
local function keep(queue, ev)
    if ev.type ~= "FAILED" and #queue >= co.BACKLOG then table.remove(queue, 1) end
    queue[#queue + 1] = ev
end

-- Polls every node once without waiting; events go to the backlogs first,
-- so that an error raised by a resumed coroutine loses none.
function Loop:poll_nodes()
    local nodes = {}
    for i, node in ipairs(self.nodes) do nodes[i] = node end -- remove() may change the list
    for _, node in ipairs(nodes) do
        local queue = self.backlog[node]
        if node:closed() then
            self:remove(node, "closed")
        elseif not queue.failed then -- a failed node has nothing more to say
            local events, err, code = node:step()
            for _, ev in ipairs(events) do
                keep(queue, ev)
                queue.failed = queue.failed or ev.type == "FAILED"
            end
            if err and not queue.failed then
                keep(queue, { type = "FAILED", error = err, code = code })
                queue.failed = true
            end
        end
    end
end

-- One frame: poll every node without waiting, wake whoever waited.
function Loop:step()
    self:poll_nodes()
    local i = 1
    while i <= #self.waiting do -- a resumed coroutine may add waiters: they count too
        local w = self.waiting[i]
        local ev = claim(self.backlog[w.node], w.wanted)
        if ev then
            table.remove(self.waiting, i)
            resume(w.thread, outcome(ev, w.wanted))
            i = 1 -- the list changed under us
        else
            i = i + 1
        end
    end
    local now = self.clock()
    for j = #self.waiting, 1, -1 do
        local w = self.waiting[j]
        if w.deadline and now >= w.deadline then
            table.remove(self.waiting, j)
            resume(w.thread, nil, "timeout")
        end
    end
    return #self.waiting
end

return co
