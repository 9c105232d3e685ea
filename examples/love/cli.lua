-- The game's command line, read by conf.lua (no window when it is wrong)
-- and by main.lua (which reports it). No LÖVE and no ruphin here.
local cli = {}

cli.USAGE = "usage: love examples/love --holepuncher HOST:PORT --session ID"
    .. " --role server|client [--frames N]"

-- The protocol's limit on a session id (RUPHIN_MAX_SESSION_ID in ruphin.h).
local MAX_SESSION_ID = 20

local function address_ok(text)
    local host, port = text:match("^%[([^%]]+)%]:(%d+)$") -- [v6]:port
    if not host then host, port = text:match("^([^:]+):(%d+)$") end
    port = tonumber(port)
    return host ~= nil and port ~= nil and port >= 1 and port <= 65535
end

-- args: the game's arguments (love.load's, or love.arg.parseGameArguments(arg)).
-- Returns the options {holepuncher =, session =, role =, frames = N or nil},
-- or nil and a one-line reason.
function cli.parse(args)
    local opts, i = {}, 1
    local takes = { ["--holepuncher"] = "holepuncher", ["--session"] = "session",
                    ["--role"] = "role", ["--frames"] = "frames" }
    while i <= #args do
        local name = takes[args[i]]
        if not name then return nil, ("unknown argument %q"):format(args[i]) end
        if args[i + 1] == nil then return nil, args[i] .. " needs a value" end
        opts[name] = args[i + 1]
        i = i + 2
    end
    if not opts.holepuncher then return nil, "--holepuncher HOST:PORT is missing" end
    if not address_ok(opts.holepuncher) then
        return nil, ("--holepuncher %q is not HOST:PORT"):format(opts.holepuncher)
    end
    if not opts.session then return nil, "--session ID is missing" end
    if #opts.session == 0 or #opts.session > MAX_SESSION_ID then
        return nil, ("--session must be 1 to %d bytes long"):format(MAX_SESSION_ID)
    end
    if not opts.role then return nil, "--role server|client is missing" end
    if opts.role ~= "server" and opts.role ~= "client" then
        return nil, ("--role %q is neither server nor client"):format(opts.role)
    end
    if opts.frames then
        local n = tonumber(opts.frames)
        if not n or n < 1 or n % 1 ~= 0 then
            return nil, ("--frames %q is not a positive whole number"):format(opts.frames)
        end
        opts.frames = n
    end
    return opts
end

return cli
