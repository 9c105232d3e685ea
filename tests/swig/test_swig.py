"""The SWIG interface: generate the Tcl binding, build it with the core's
sources, and run a loopback exchange from tclsh."""
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TCL_INCLUDE = "/usr/include/tcl"


def test_tcl_binding_round_trip(tmp_path):
    if not shutil.which("swig") or not shutil.which("tclsh") or \
            not os.path.exists(os.path.join(TCL_INCLUDE, "tcl.h")):
        pytest.skip("swig, tclsh or tcl-dev missing (scripts/test.sh installs them)")
    wrap = tmp_path / "ruphin_wrap.c"
    lib = tmp_path / "ruphin.so"
    subprocess.run(["swig", "-tcl8", "-I" + os.path.join(ROOT, "core", "include"), "-o", str(wrap),
                    os.path.join(ROOT, "bindings", "swig", "ruphin.i")], check=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-I" + TCL_INCLUDE,
                    "-I" + os.path.join(ROOT, "core", "include"), str(wrap),
                    *glob.glob(os.path.join(ROOT, "core", "src", "*.c")), "-lpthread",
                    "-o", str(lib)], check=True)
    result = subprocess.run(["tclsh", os.path.join(ROOT, "tests", "swig", "loopback.tcl"),
                             str(lib)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "echo: hello from tcl" in result.stdout
