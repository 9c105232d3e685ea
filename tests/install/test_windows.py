"""The core's sources compile as they are for Windows, without CMake: with
MinGW-w64 at -Wall -Wextra -Werror, linked into a Windows program with
Winsock and the IP helper. The CMake build and everything run under Wine are
in tests/windows (docs/PLATFORMS.md)."""
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CC = "x86_64-w64-mingw32-gcc"

PROGRAM = r"""
#include "ruphin.h"
#include <stdio.h>
int main(void) {
    ruphin_node *node;
    int rc = ruphin_holepuncher_new(&node, "127.0.0.1:0", NULL);
    printf("%s %d\n", ruphin_version(), rc);
    ruphin_close(node);
    return rc;
}
"""


def test_core_cross_compiles_for_windows(tmp_path):
    if shutil.which(CC) is None:
        pytest.skip("MinGW-w64 is not installed (scripts/test.sh installs gcc-mingw-w64-x86-64)")
    (tmp_path / "main.c").write_text(PROGRAM)
    result = subprocess.run(
        [CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "core", "include"),
         str(tmp_path / "main.c"), *glob.glob(os.path.join(ROOT, "core", "src", "*.c")),
         "-lws2_32", "-liphlpapi", "-o", str(tmp_path / "ruphin-test.exe")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ruphin-test.exe").read_bytes()[:2] == b"MZ"
