"""Fixtures for the Windows tests: the MinGW-w64 build of the project and
Wine to run it (docs/PLATFORMS.md). Debian's wine64 keeps its wine64 binary
in its library folder, not on PATH: it is found through `dpkg -L wine64`."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winetools import WINE_ENV, find_wine64  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MINGW_CC = "x86_64-w64-mingw32-gcc"
TOOLCHAIN = os.path.join(ROOT, "cmake", "mingw-w64-x86_64.cmake")


def _missing(what):
    # tests/conftest.py's missing_tool: skip here, fail where scripts/test.sh
    # installed every tool (RUPHIN_ALL_TOOLS=1).
    if os.environ.get("RUPHIN_ALL_TOOLS") == "1":
        pytest.fail(f"{what}, although scripts/test.sh installs it", pytrace=False)
    pytest.skip(what)


class Wine:
    """Runs Windows programs under Wine with a prefix of its own (inside the
    Windows build folder, so that nothing leaks between runs or into ~)."""

    def __init__(self, wine64, prefix):
        self.wine64 = wine64
        self.prefix = prefix
        self.wineserver = os.path.join(os.path.dirname(wine64), "wineserver")
        self.env = {**os.environ, **WINE_ENV, "WINEPREFIX": prefix}

    def argv(self, exe, *args):
        return [self.wine64, str(exe), *[str(a) for a in args]]

    def run(self, exe, *args, timeout=120, **kw):
        """Runs exe to its end, output captured as text (stdin empty unless
        input= is given)."""
        if "input" not in kw:
            kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("env", self.env)
        return subprocess.run(self.argv(exe, *args), capture_output=True, text=True,
                              timeout=timeout, **kw)

    def boot(self):
        """Makes the prefix (about 10 s the first time) and starts the
        wineserver, so that the first test does not pay for it."""
        os.makedirs(self.prefix, exist_ok=True)
        result = subprocess.run([self.wine64, "wineboot", "--init"], env=self.env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr

    def shutdown(self):
        if os.path.exists(self.wineserver):
            subprocess.run([self.wineserver, "-k"], env=self.env, capture_output=True,
                           timeout=60)


def windows_build_dir():
    return os.environ.get("RUPHIN_WIN_BUILD_DIR", os.path.join(ROOT, "build-win"))


@pytest.fixture(scope="session")
def win_build():
    """The MinGW-w64 build (RUPHIN_WIN_BUILD_DIR, default build-win/), made
    with cmake/mingw-w64-x86_64.cmake if it is not there yet."""
    if shutil.which(MINGW_CC) is None:
        _missing("MinGW-w64 is not installed (Debian: gcc-mingw-w64-x86-64)")
    path = windows_build_dir()
    if not os.path.exists(os.path.join(path, "ruphin.exe")):
        subprocess.run(["cmake", "-S", ROOT, "-B", path, f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}"],
                       check=True, capture_output=True, timeout=300)
        subprocess.run(["cmake", "--build", path, "-j2"], check=True, capture_output=True,
                       timeout=900)
    return path


@pytest.fixture(scope="session")
def wine():
    """A booted Wine whose prefix lives in the Windows build folder; its
    wineserver is stopped at the end of the session."""
    wine64 = find_wine64()
    if wine64 is None:
        _missing("Wine is not installed (Debian: wine64)")
    w = Wine(wine64, os.path.join(windows_build_dir(), "wineprefix"))
    w.boot()
    yield w
    w.shutdown()
