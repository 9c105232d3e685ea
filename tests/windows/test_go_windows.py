"""The Go binding cross-built for Windows (cgo with MinGW-w64) and its test
binary run under Wine: every Go test runs and passes there, except the
sealed session's, which skips because Windows builds have no libsodium
(bindings/go/sodium.go)."""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GO_DIR = os.path.join(ROOT, "bindings", "go")
MINGW_CC = "x86_64-w64-mingw32-gcc"
# Go tests that skip on Windows, with the reason they give.
SKIPPED_ON_WINDOWS = {"TestSealedSession": "built without libsodium"}


def go_test_functions():
    with open(os.path.join(GO_DIR, "ruphin_test.go")) as f:
        return re.findall(r"^func (Test\w+)\(t \*testing\.T\)", f.read(), re.M)


@pytest.fixture(scope="module")
def test_exe(go_env, tmp_path_factory, tool_missing):
    """The binding's test binary for windows/amd64. Go links it itself (no
    MinGW runtime DLL is needed: Wine's prefix has none, and it runs)."""
    if shutil.which(MINGW_CC) is None:
        tool_missing("MinGW-w64 is not installed (Debian: gcc-mingw-w64-x86-64)")
    exe = tmp_path_factory.mktemp("go-windows") / "ruphin.test.exe"
    env = {**go_env, "GOOS": "windows", "GOARCH": "amd64", "CC": MINGW_CC}
    result = subprocess.run(["go", "test", "-c", "-o", str(exe), "."], cwd=GO_DIR, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return exe


def test_go_tests_pass_under_wine(test_exe, wine):
    # From the package's folder, as go test runs them (one test reads ../../core).
    result = wine.run(test_exe, "-test.v", "-test.count=1", "-test.timeout=300s",
                      cwd=GO_DIR, timeout=400)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # Top-level results only: a subtest's line is indented.
    outcome = {name: status for status, name in
               re.findall(r"^--- (PASS|FAIL|SKIP): (\w+) ", output, re.M)}
    expected = go_test_functions()
    assert sorted(outcome) == sorted(expected), output[-4000:]
    for name in expected:
        if name in SKIPPED_ON_WINDOWS:
            assert outcome[name] == "SKIP", f"{name} ran: does this build have libsodium now?"
            assert SKIPPED_ON_WINDOWS[name] in output
        else:
            assert outcome[name] == "PASS", output[-4000:]
    print(f"Go tests under Wine: {len(expected) - len(SKIPPED_ON_WINDOWS)} passed, "
          f"skipped: {', '.join(SKIPPED_ON_WINDOWS)}")
