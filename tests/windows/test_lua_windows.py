"""The Lua binding on Windows: scripts/windows-lua.sh cross-builds Lua 5.4
and LuaJIT (the runtime of LÖVE on Windows) from Debian's source packages
with MinGW-w64, and ruphin.dll for each; tests/lua's scripts then run under
Wine with the same checks as tests/lua/test_lua.py on Linux."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LUA_TESTS = os.path.join(ROOT, "tests", "lua")
SCRIPT = os.path.join(ROOT, "scripts", "windows-lua.sh")
ROCKSPEC = os.path.join(ROOT, "ruphin-0.1.0-1.rockspec")
OUT = os.environ.get("RUPHIN_WIN_LUA_DIR", os.path.join(ROOT, "build-win-lua"))

# Runtime (a folder of OUT) -> its interpreter and the DLL a module links to.
RUNTIMES = {"lua5.4": ("lua.exe", "lua54.dll"), "luajit": ("luajit.exe", "lua51.dll")}

# (runtime, script, what it prints when every check passed), as test_lua.py
# runs them; close_test.lua is Lua 5.4 syntax (<close>).
CASES = [(runtime, script, done) for runtime in RUNTIMES
         for script, done in (("binding_test.lua", "checks passed"),
                              ("co_test.lua", "coroutines done"))]
CASES.append(("lua5.4", "close_test.lua", "closed by __close"))

# What scripts/windows-lua.sh runs, with the Debian package that has it.
TOOLS = {"x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64",
         "x86_64-w64-mingw32-objdump": "binutils-mingw-w64-x86-64",
         "gcc": "gcc", "make": "make", "lua5.4": "lua5.4", "patch": "patch",
         "apt-get": "apt", "dpkg-source": "dpkg-dev"}


def windows_path(path):
    """The path as Windows programs under Wine see it (drive Z: is /)."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def run_script():
    return subprocess.run(["bash", SCRIPT, OUT], capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def windows_lua(tool_missing):
    """OUT, with both runtimes and their ruphin.dll built (about a minute the
    first time, nothing after)."""
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            tool_missing(f"{tool} is not installed (Debian: {package})")
    result = run_script()
    assert result.returncode == 0, result.stdout + result.stderr
    return OUT


def run_lua(windows_lua, wine, runtime, script, tmp_path):
    folder = os.path.join(windows_lua, runtime)
    # The module found through LUA_PATH and LUA_CPATH only (Windows paths,
    # ';'-separated), from another working directory: LuaJIT's default
    # package.path has no entry that would find ruphin/co.lua beside luajit.exe.
    env = {k: v for k, v in wine.env.items() if not k.startswith(("LUA_PATH", "LUA_CPATH"))}
    env["LUA_PATH"] = windows_path(folder) + "\\?.lua"
    env["LUA_CPATH"] = windows_path(folder) + "\\?.dll"
    return wine.run(os.path.join(folder, RUNTIMES[runtime][0]), windows_path(script), env=env,
                    cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("runtime,script,done", CASES,
                         ids=[f"{r}-{s[:-4]}" for r, s, _ in CASES])
def test_lua_script(windows_lua, wine, runtime, script, done, tmp_path):
    result = run_lua(windows_lua, wine, runtime, os.path.join(LUA_TESTS, script), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert done in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_the_frame_loop_example(windows_lua, wine, runtime, tmp_path):
    """examples/lua/loopback.lua, the frame loop a game would run."""
    example = os.path.join(ROOT, "examples", "lua", "loopback.lua")
    result = run_lua(windows_lua, wine, runtime, example, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "echoed 3 datagrams" in result.stdout, result.stdout


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_module_links_its_interpreter_dll(windows_lua, runtime):
    """Unlike on Linux, a Windows module imports the lua_* functions from the
    interpreter's DLL; and it needs no MinGW runtime DLL beside it."""
    dll = os.path.join(windows_lua, runtime, "ruphin.dll")
    dump = subprocess.run(["x86_64-w64-mingw32-objdump", "-p", dll], capture_output=True,
                          text=True, check=True).stdout
    imports = {line.split("DLL Name:")[1].strip().lower()
               for line in dump.splitlines() if "DLL Name:" in line}
    lua_dlls = {luadll for _, luadll in RUNTIMES.values()}
    assert imports & lua_dlls == {RUNTIMES[runtime][1]}, imports
    assert "ws2_32.dll" in imports, imports
    assert not any(name.startswith(("libgcc", "libwinpthread", "libsodium")) for name in imports), \
        imports


def test_second_run_does_nothing(windows_lua):
    # Twice in a row: a source edited since the fixture's run is rebuilt by
    # the first (the work tree may change while the Wine tests run).
    run_script()
    result = run_script()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== building" not in result.stdout and "apt-get source" not in result.stdout, \
        result.stdout


# Loads the rockspec with LuaRocks' own code, as `luarocks make` does on the
# platforms that LUAROCKS_CONFIG names, and prints the ruphin module's
# libraries, defines and external dependencies after the platform overrides.
MERGED_ROCKSPEC = """
local cfg = require("luarocks.core.cfg")
assert(cfg.init({ lua_version = "5.1", lua_bindir = "/usr/bin", lua_interpreter = "luajit" }))
local persist = require("luarocks.persist")
local rockspecs = require("luarocks.rockspecs")
local file = arg[1]
local spec = assert(persist.load_into_table(file))
assert(require("luarocks.type.rockspec").check(spec, {}))
spec = assert(rockspecs.from_persisted_table(file, spec, nil, true))
local m = spec.build.modules.ruphin
local deps = {}
for name in pairs(spec.external_dependencies) do deps[#deps + 1] = name end
print(table.concat(m.libraries or {}, ","))
print(table.concat(m.defines or {}, ","))
print(table.concat(deps, ","))
"""


@pytest.mark.parametrize("platforms,expected", [
    ('{ "windows", "win32" }', ["ws2_32,iphlpapi", "", ""]),
    ('{ "unix", "linux" }', ["pthread,sodium", "RUPHIN_WITH_SODIUM", "SODIUM"]),
], ids=["windows", "linux"])
def test_rockspec_platforms(tool_missing, tmp_path, platforms, expected):
    """LuaRocks on Windows links Winsock and the IP helper, without libsodium
    or pthread; on Linux the module builds as before."""
    if shutil.which("luajit") is None or shutil.which("luarocks") is None:
        tool_missing("luajit or luarocks is missing")
    config = tmp_path / "config.lua"
    config.write_text(f"platforms = {platforms}\n")
    result = subprocess.run(["luajit", "-", ROCKSPEC], input=MERGED_ROCKSPEC, text=True,
                            capture_output=True, timeout=60,
                            env={**os.environ, "LUAROCKS_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected
