-- Read by LÖVE before it opens the window: a light set-up that also runs
-- headless (under xvfb-run), and no window at all when the command line is
-- wrong, so that main.lua reports it without anything half-started.
local cli = require("cli")

function love.conf(t)
    t.identity = "ruphin-love" -- the save directory's name (docs/BINDINGS.md)
    t.version = "11.4"
    t.accelerometerjoystick = false
    t.audio.mic = false
    -- Only what a dot on a window needs.
    t.modules.audio = false
    t.modules.sound = false
    t.modules.joystick = false
    t.modules.mouse = false
    t.modules.physics = false
    t.modules.thread = false
    t.modules.touch = false
    t.modules.video = false

    t.window.title = "ruphin"
    t.window.width = 320
    t.window.height = 240
    -- main.lua paces the frames itself (60 a second), with or without a
    -- display that syncs: a frame count means the same time everywhere.
    t.window.vsync = 0

    if not cli.parse(love.arg.parseGameArguments(arg)) then
        t.window = false
        t.modules.window = false
        t.modules.graphics = false
    end
end
