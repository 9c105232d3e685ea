"""Finding Wine, and the environment Windows programs run with: shared by
tests/windows (conftest.py) and the NAT lab's Windows test
(tests/natlab/test_windows_lan.py), which import this file by path (pytest
runs with --import-mode=importlib: test folders do not import each other)."""
import os
import shutil
import subprocess

# No debug chatter, a 64-bit prefix, no Mono or Gecko install prompt when a
# prefix is made.
WINE_ENV = {"WINEDEBUG": "-all", "WINEARCH": "win64", "WINEDLLOVERRIDES": "mscoree=d;mshtml=d"}


def find_wine64():
    """The wine64 binary (Debian's wine64 package keeps it off PATH, in its
    library folder: `dpkg -L wine64`), or None."""
    found = shutil.which("wine64")
    if found:
        return found
    try:
        files = subprocess.run(["dpkg", "-L", "wine64"], capture_output=True, text=True,
                               timeout=30).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return next((p for p in files if os.path.basename(p) == "wine64"
                 and os.access(p, os.X_OK) and not os.path.isdir(p)), None)
