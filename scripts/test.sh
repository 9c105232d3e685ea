#!/usr/bin/env bash
# Runs the whole test suite from a fresh Debian 12 clone, as root:
# installs what it needs, builds the normal and the sanitizer variants, then
# runs pytest over tests/ against each. Fails if no test ran.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/deps.sh

ensure_packages build-essential cmake clang pkg-config git iproute2 iptables nftables conntrack \
    libnetfilter-queue-dev python3 python3-dev python3-pytest python3-cffi python3-hypothesis \
    python3-setuptools python3-venv python3-pip python3-build python3-wheel lua5.4 liblua5.4-dev luajit libluajit-5.1-dev \
    liblua5.1-0-dev \
    luarocks golang-go golang-golang-x-mod-dev swig tcl-dev openjdk-17-jdk-headless \
    libsodium-dev abigail-tools gcc-mingw-w64-x86-64 wine64 dpkg-dev love xvfb xauth \
    libgl1-mesa-dri libmicrohttpd-dev prometheus strace systemd miniupnpd-nftables natpmpc \
    miniupnpc
# Every tool is here now: a binding test that finds one missing fails rather
# than skips (tests/conftest.py, missing_tool).
export RUPHIN_ALL_TOOLS=1

echo "== building build/, build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer),"
echo "   build-portable/ (the POSIX path of macOS and the BSDs) and build-win/ (MinGW-w64)"
cmake_build build
cmake_build build-asan -DRUPHIN_SANITIZE=ON
cmake_build build-portable -DRUPHIN_PORTABLE=ON
cmake_build build-win -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake"

# A venv that sees Debian's pytest, cffi and hypothesis, with our package in
# it; and a second one whose package is built with the sanitizers.
make_venv() {
    local venv=$1
    shift
    [[ -x $venv/bin/python ]] || /usr/bin/python3 -m venv --system-site-packages "$venv"
    env "$@" "$venv/bin/pip" install --no-build-isolation --no-deps -q --force-reinstall .
}
make_venv .venv
make_venv .venv-asan RUPHIN_PY_BUILD=build-python-asan \
    CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# Runs pytest with a JUnit report and fails unless some test passed and none failed.
run_suite() {
    local name=$1 python=$2
    shift 2
    local report="$ROOT/build/pytest-$name.xml"
    echo "== pytest ($name)"
    "$python" -m pytest -p no:cacheprovider --junitxml="$report" "$@"
    /usr/bin/python3 - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
total = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
passed = total - bad - skipped
print(f"== {passed} passed, {skipped} skipped, {bad} failed")
sys.exit(0 if passed > 0 and bad == 0 else 1)
PY
}

# tests/windows runs the build-win programs under Wine (docs/PLATFORMS.md).
RUPHIN_BUILD_DIR="$ROOT/build" RUPHIN_WIN_BUILD_DIR="$ROOT/build-win" \
    run_suite main .venv/bin/python tests

# The portable POSIX path, forced on Linux: the C tests and the program end
# to end take the branches macOS and the BSDs would.
RUPHIN_BUILD_DIR="$ROOT/build-portable" run_suite portable .venv/bin/python tests/c tests/cli

# The sanitizer pass: the C tests, the program and the Python package, all
# built with AddressSanitizer and UndefinedBehaviorSanitizer. Python itself
# is not instrumented, so the sanitizer runtimes are preloaded.
asan_runtime="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
RUPHIN_BUILD_DIR="$ROOT/build-asan" LD_PRELOAD="$asan_runtime" ASAN_OPTIONS=detect_leaks=0 \
    run_suite asan .venv-asan/bin/python tests/c tests/cli tests/python
echo "== all tests passed"
