"""cmake --install gives a usable SDK: header, libraries, pkg-config file and
CMake package; the shared library exports only the ruphin_* API."""
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/install/..

PROGRAM = r"""
#include <ruphin.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    ruphin_node *hp;
    if (ruphin_holepuncher_new(&hp, "127.0.0.1:0", NULL) != RUPHIN_OK) return 1;
    ruphin_close(hp);
    printf("%s\n", ruphin_version());
    return strcmp(ruphin_version(), RUPHIN_VERSION_STRING) != 0;
}
"""


@pytest.fixture(scope="module")
def prefix(build_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("prefix")
    subprocess.run(["cmake", "--install", build_dir, "--prefix", str(path)], check=True,
                   capture_output=True)
    return path


def run_ok(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_installed_files(prefix):
    for rel in ("include/ruphin.h", "lib/libruphin.so", "lib/libruphin.a", "bin/ruphin",
                "lib/pkgconfig/ruphin.pc", "lib/cmake/ruphin/ruphinConfig.cmake"):
        assert (prefix / rel).exists(), rel


def test_installed_program_needs_no_shared_library(prefix):
    """The program links the static library: it runs from any prefix as it is."""
    assert "libruphin" not in run_ok(["ldd", str(prefix / "bin" / "ruphin")])
    assert run_ok([str(prefix / "bin" / "ruphin"), "--version"]).startswith("ruphin ")


def test_build_with_pkg_config(prefix, tmp_path):
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is not installed (scripts/test.sh installs it)")
    env = {**os.environ, "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    flags = run_ok(["pkg-config", "--cflags", "--libs", "ruphin"], env=env).split()
    (tmp_path / "app.c").write_text(PROGRAM)
    run_ok(["cc", str(tmp_path / "app.c"), *flags, "-o", str(tmp_path / "app")])
    out = run_ok([str(tmp_path / "app")], env={"LD_LIBRARY_PATH": str(prefix / "lib")})
    header = open(os.path.join(ROOT, "core", "include", "ruphin.h")).read()
    assert f'#define RUPHIN_VERSION_STRING "{out.strip()}"' in header
    assert "libruphin.so" in run_ok(["ldd", str(tmp_path / "app")],
                                    env={"LD_LIBRARY_PATH": str(prefix / "lib")})


@pytest.mark.parametrize("target", ["ruphin::ruphin", "ruphin::ruphin_static"])
def test_build_with_find_package(prefix, tmp_path, target):
    (tmp_path / "app.c").write_text(PROGRAM)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(app C)\n"
        "find_package(ruphin 0.1 REQUIRED)\n"
        f"add_executable(app app.c)\ntarget_link_libraries(app PRIVATE {target})\n")
    run_ok(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "b"),
            f"-DCMAKE_PREFIX_PATH={prefix}"])
    run_ok(["cmake", "--build", str(tmp_path / "b")])
    run_ok([str(tmp_path / "b" / "app")])
    shared = "libruphin.so" in run_ok(["ldd", str(tmp_path / "b" / "app")])
    assert shared == (target == "ruphin::ruphin")


def test_only_the_api_is_exported(build_dir):
    out = run_ok(["nm", "-D", "--defined-only", os.path.join(build_dir, "libruphin.so")])
    symbols = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert symbols and all(s.startswith("ruphin_") for s in symbols), symbols
    header = open(os.path.join(ROOT, "core", "include", "ruphin.h")).read()
    assert all(f"{s}(" in header for s in symbols)


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_core_compiles_with_a_plain_cc(compiler, tmp_path):
    """What the README promises and every binding's build relies on: the core
    compiles as it is, with one `cc -c core/src/*.c`: no configuration step,
    no generated header, no include path, no warning."""
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed (scripts/test.sh installs it)")
    sources = glob.glob(os.path.join(ROOT, "core", "src", "*.c"))
    run_ok([compiler, "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", *sources], cwd=tmp_path)
    assert len(list(tmp_path.glob("*.o"))) == len(sources) > 0
