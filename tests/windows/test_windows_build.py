"""The Windows build (cmake/mingw-w64-x86_64.cmake) and the core's C tests
run under Wine: what it builds and installs, what the DLL exports, and every
C test program of tests/c (the same list CMake builds)."""
import json
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def c_test_names():
    """The C test programs, from the one list in tests/c/CMakeLists.txt."""
    text = open(os.path.join(ROOT, "tests", "c", "CMakeLists.txt")).read()
    names = re.search(r"foreach\(name ([^)]*)\)", text).group(1).split()
    assert len(names) >= 9, names
    return names


def test_the_build_makes_the_dll_its_import_library_the_static_library_and_the_program(
        win_build):
    for name in ["libruphin.dll", "libruphin.dll.a", "libruphin.a", "ruphin.exe"]:
        path = os.path.join(win_build, name)
        assert os.path.exists(path), f"{name} was not built"
    for name in ["libruphin.dll", "ruphin.exe"]:
        with open(os.path.join(win_build, name), "rb") as f:
            assert f.read(2) == b"MZ"


def test_the_dll_exports_the_api_and_nothing_else(win_build):
    dump = subprocess.run(["x86_64-w64-mingw32-objdump", "-p",
                           os.path.join(win_build, "libruphin.dll")],
                          capture_output=True, text=True, check=True).stdout
    table = dump[dump.index("[Ordinal/Name Pointer] Table"):]
    exported = re.findall(r"^\s*\[\s*\d+\]\s+(\S+)$", table, re.M)
    declared = set(re.findall(r"^RUPHIN_API [^(]*?\b(ruphin_\w+)\(",
                              open(os.path.join(ROOT, "core", "include", "ruphin.h")).read(),
                              re.M))
    assert set(exported) == declared
    # Only Windows' own DLLs are needed beside it (MinGW's runtime is linked in).
    needed = set(n.lower() for n in re.findall(r"DLL Name: (\S+)", dump))
    assert "libwinpthread-1.dll" not in needed and "libgcc_s_seh-1.dll" not in needed, needed
    assert {"ws2_32.dll", "iphlpapi.dll"} <= needed, needed


def test_install_names_the_system_libraries_once(win_build, tmp_path):
    """The pkg-config file and the CMake package carry what the static
    library needs on Windows: Winsock and the IP helper."""
    subprocess.run(["cmake", "--install", win_build, "--prefix", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    pc = (tmp_path / "lib" / "pkgconfig" / "ruphin.pc").read_text()
    assert re.search(r"^Libs.private: -lws2_32 -liphlpapi$", pc, re.M), pc
    targets = (tmp_path / "lib" / "cmake" / "ruphin" / "ruphinTargets.cmake").read_text()
    assert re.search(r'INTERFACE_LINK_LIBRARIES "ws2_32;iphlpapi"', targets), targets
    config = (tmp_path / "lib" / "cmake" / "ruphin" / "ruphinConfig.cmake").read_text()
    assert "Threads" not in config
    assert (tmp_path / "bin" / "libruphin.dll").exists()
    assert (tmp_path / "bin" / "ruphin.exe").exists()


@pytest.mark.parametrize("name", c_test_names())
def test_c_unit_under_wine(win_build, wine, name):
    exe = os.path.join(win_build, "tests", "c", f"{name}.exe")
    assert os.path.exists(exe), f"{exe} not built"
    result = wine.run(exe, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^[1-9][0-9]* checks, 0 failed", result.stdout, re.M), result.stdout
    assert "FAIL" not in result.stdout


def host_lan_addresses():
    """The host's addresses a LAN peer could use: global scope (not
    loopback, not link-local), as `ip` sees them."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True)
    return {a["local"] for link in json.loads(out.stdout) for a in link.get("addr_info", [])
            if a.get("scope") == "global"}


def local_addresses(result):
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.findall(r"^local \[?([^\]\s]+?)\]?:0\r?$", result.stdout, re.M)
    return set(found)


def test_windows_announces_the_same_lan_addresses_as_linux(win_build, wine, build_dir):
    """A wildcard socket's LAN addresses come from GetAdaptersAddresses on
    Windows and getifaddrs on Linux: under Wine, which shows the host's
    interfaces to Windows programs, both must give the host's addresses, so
    that Windows peers behind one NAT find each other on the LAN."""
    expected = host_lan_addresses()
    assert expected, "this host has no LAN address to compare with (ip -j addr)"
    linux = local_addresses(subprocess.run(
        [os.path.join(build_dir, "tests", "c", "test_sock"), "--local-addresses"],
        capture_output=True, text=True, timeout=60))
    windows = local_addresses(wine.run(os.path.join(win_build, "tests", "c", "test_sock.exe"),
                                       "--local-addresses"))
    assert linux == expected
    assert windows == expected
