#!/usr/bin/env bash
# Builds the Lua binding for 64-bit Windows with MinGW-w64, for two Windows
# interpreters cross-built from Debian's own source packages: Lua 5.4
# (lua5.4) and LuaJIT (luajit; LÖVE on Windows runs LuaJIT).
#
#   scripts/windows-lua.sh [OUT]        (OUT defaults to build-win-lua/)
#
# leaves, for tests/windows/test_lua_windows.py to run under Wine:
#   OUT/lua5.4/  lua.exe     lua54.dll  ruphin.dll  ruphin/co.lua
#   OUT/luajit/  luajit.exe  lua51.dll  ruphin.dll  ruphin/co.lua
# so that require "ruphin" and require "ruphin.co" work from that folder.
# OUT/src/ holds the unpacked source packages and their builds.
#
# A second run does nothing: the sources are fetched once, the interpreters
# built once, and ruphin.dll rebuilt only when a source it uses is newer.
# Needs: x86_64-w64-mingw32-gcc (gcc-mingw-w64-x86-64), gcc and make for
# LuaJIT's build tools, dpkg-dev (apt-get source), a host lua5.4 (reads the
# rockspec); root only the first time, if apt has no deb-src entry yet.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/build-win-lua}
mkdir -p "$OUT/src"
OUT=$(cd "$OUT" && pwd)
SRC=$OUT/src
CROSS=x86_64-w64-mingw32-
CC=${CROSS}gcc
JOBS=$(nproc)

need() { # command, Debian package
    command -v "$1" >/dev/null || { echo "windows-lua.sh: $1 is missing (Debian: $2)" >&2; exit 1; }
}
need "$CC" gcc-mingw-w64-x86-64
need gcc gcc
need make make
need lua5.4 lua5.4

# apt-get source needs a deb-src entry, which Debian's images do not have.
# Add one that mirrors the configured deb entries (same mirrors, suites and
# Signed-By: apt refuses two entries for one source with different keys),
# but only when apt-get source would otherwise fail.
ensure_deb_src() {
    apt-get source --print-uris lua5.4 >/dev/null 2>&1 && return
    if [[ $(id -u) != 0 ]]; then
        echo "windows-lua.sh: apt has no deb-src entry; run once as root to add one" >&2
        exit 1
    fi
    echo "== adding deb-src entries for apt-get source"
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then # deb822, as in Debian 12 images
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            >/etc/apt/sources.list.d/ruphin-src.sources
    else
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/ruphin-src.list
    fi
    apt-get update -qq
}

# Unpacks Debian's source package $1 (patches applied) into $SRC/$1, once.
# It is unpacked aside and moved into place whole, so that an interrupted
# run is simply redone.
fetch() {
    local pkg=$1 tmp=$SRC/$1.tmp
    [[ -d $SRC/$pkg ]] && return
    need dpkg-source dpkg-dev
    ensure_deb_src
    echo "== apt-get source $pkg"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    (cd "$tmp" && apt-get source -qq "$pkg")
    local tree=("$tmp/$pkg"-*/)
    if [[ $pkg == lua5.4 ]]; then
        # Debian's first patch swaps upstream's makefiles (which have the
        # mingw target) for libtool ones; undo just that one and keep the
        # others (module paths, CVE fixes).
        (cd "${tree[0]}" && patch -s -R -p1 <debian/patches/0001-build-system.patch)
    fi
    mv "${tree[0]}" "$SRC/$pkg"
    rm -rf "$tmp"
}

fetch lua5.4
fetch luajit

# Upstream's mingw target: lua54.dll (LUA_BUILD_AS_DLL) and lua.exe using it.
if [[ ! -f $SRC/lua5.4/src/lua.exe ]]; then
    echo "== building Windows Lua 5.4"
    make -C "$SRC/lua5.4/src" -j"$JOBS" mingw CC="$CC -std=gnu99"
fi
# LuaJIT's cross build: HOST_CC builds its build tools (minilua, buildvm)
# for this machine, CROSS the rest: lua51.dll and luajit.exe using it.
if [[ ! -f $SRC/luajit/src/luajit.exe ]]; then
    echo "== building Windows LuaJIT"
    make -C "$SRC/luajit" -j"$JOBS" HOST_CC=gcc CROSS="$CROSS" TARGET_SYS=Windows
fi

# The module's C sources, as the rockspec lists them (so that this build and
# LuaRocks' cannot drift apart).
mapfile -t SOURCES < <(cd "$ROOT" && lua5.4 -e '
    local spec = {}
    assert(loadfile("ruphin-0.1.0-1.rockspec", "t", spec))()
    for _, file in ipairs(spec.build.modules.ruphin.sources) do print(file) end')
((${#SOURCES[@]})) || { echo "windows-lua.sh: no sources read from the rockspec" >&2; exit 1; }

# Copies $1 to folder $2 when the copy is missing or older.
copy() {
    [[ -f $2/$(basename "$1") && ! $1 -nt $2/$(basename "$1") ]] && return
    cp -p "$1" "$2/"
}

# Lays out OUT/$1 from interpreter $2 and its DLL $3 (in folder $4), and
# builds ruphin.dll there against that DLL's headers and the DLL itself: on
# Windows a module links to the interpreter's DLL (there is no lazy lookup
# of lua_* symbols in the process, as on Linux). The rockspec's Windows
# libraries (ws2_32, iphlpapi), no libsodium (none for MinGW in Debian:
# sealed sessions report unsupported) and no pthread (the core uses Windows
# threads). -static-libgcc: the module needs no MinGW runtime DLL beside it.
# No -Werror, as LuaRocks builds it: the CMake MinGW build is the strict one.
runtime() {
    local name=$1 exe=$2 luadll=$3 dir=$4 dest=$OUT/$1
    mkdir -p "$dest/ruphin"
    copy "$dir/$exe" "$dest"
    copy "$dir/$luadll" "$dest"
    copy "$ROOT/bindings/lua/co.lua" "$dest/ruphin"
    # Rebuilt when anything it is made of (sources, headers, the rockspec,
    # this script's flags) is newer than it.
    if [[ -f $dest/ruphin.dll ]] && [[ -z $(cd "$ROOT" && find "${SOURCES[@]}" core/include \
        core/src ruphin-0.1.0-1.rockspec scripts/windows-lua.sh "$dir/lua.h" \
        -newer "$dest/ruphin.dll" -print -quit) ]]; then
        return
    fi
    echo "== building $name/ruphin.dll"
    (cd "$ROOT" && "$CC" -std=c11 -O2 -Wall -Wextra -shared -static-libgcc \
        -DLUA_BUILD_AS_DLL -I"$dir" -Icore/include -Icore/src "${SOURCES[@]}" \
        "$dir/$luadll" -lws2_32 -liphlpapi -o "$dest/ruphin.dll.tmp")
    mv "$dest/ruphin.dll.tmp" "$dest/ruphin.dll"
}

runtime lua5.4 lua.exe lua54.dll "$SRC/lua5.4/src"
runtime luajit luajit.exe lua51.dll "$SRC/luajit/src"
echo "== ready: $OUT/lua5.4 $OUT/luajit"
