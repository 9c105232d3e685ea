-- LuaRocks package of the Lua binding. From the repository root:
--   luarocks --lua-version 5.4 make
--   luarocks --lua-version 5.1 make     (Lua 5.1 and LuaJIT; Debian: liblua5.1-0-dev, or
--                                        add LUA_INCDIR=/usr/include/luajit-2.1)
-- It compiles the C core's sources with the binding: no CMake build needed.
rockspec_format = "3.0"
package = "ruphin"
version = "0.1.0-1"
source = {
    url = "git+file:///dev/null", -- not published yet: `luarocks make` builds from the checkout
}
description = {
    summary = "UDP hole punching through a rendezvous holepuncher",
    detailed = "Lua binding of libruphin: holepuncher, server and client peers.",
}
dependencies = {
    "lua >= 5.1",
}
-- Sealed sessions use libsodium (Debian: libsodium-dev), on Unix. On Windows
-- the module builds without it (ruphin.seal_supported() is false there).
external_dependencies = {
    platforms = {
        unix = { SODIUM = { header = "sodium.h", library = "sodium" } },
    },
}
build = {
    type = "builtin",
    modules = {
        ruphin = {
            sources = {
            "bindings/lua/ruphin_lua.c",
            "core/src/addr.c",
            "core/src/bigarray.c",
            "core/src/client.c",
            "core/src/clock.c",
            "core/src/errors.c",
            "core/src/holepuncher.c",
            "core/src/machine.c",
            "core/src/node.c",
            "core/src/options.c",
            "core/src/peers.c",
            "core/src/ratelimit.c",
            "core/src/runner.c",
            "core/src/seal.c",
            "core/src/server.c",
            "core/src/sessions.c",
            "core/src/siphash.c",
            "core/src/sock.c",
            "core/src/steer.c",
            "core/src/thread.c",
            "core/src/wire.c",
            },
            incdirs = { "core/include", "core/src" },
        },
        ["ruphin.co"] = "bindings/lua/co.lua",
    },
    -- What differs by system. LuaRocks merges these into `modules` above
    -- (lists merge by position: an entry can be replaced, never removed,
    -- which is why the base names nothing that only one system wants).
    platforms = {
        unix = {
            modules = {
                ruphin = {
                    defines = { "RUPHIN_WITH_SODIUM" },
                    -- merged by position: the first two restate the base's
                    incdirs = { "core/include", "core/src", "$(SODIUM_INCDIR)" },
                    libdirs = { "$(SODIUM_LIBDIR)" },
                    libraries = { "pthread", "sodium" },
                },
            },
        },
        -- Winsock and the IP helper (the LAN addresses); no libsodium.
        -- scripts/windows-lua.sh builds the same way with MinGW-w64.
        windows = {
            modules = {
                ruphin = { libraries = { "ws2_32", "iphlpapi" } },
            },
        },
    },
}
