"""The SWIG interface: generate a binding, build it with the core's sources,
and run a loopback exchange in that language (Tcl, and Java)."""
import glob
import os
import shutil
import subprocess


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = os.path.join(ROOT, "core", "include")
TCL_INCLUDE = "/usr/include/tcl"


def build(tmp_path, swig_args, includes, lib_name):
    """Runs swig over bindings/swig/ruphin.i, compiles its output with the
    core's sources into tmp_path/lib_name and returns that path."""
    wrap = tmp_path / "ruphin_wrap.c"
    subprocess.run(["swig", *swig_args, "-I" + INCLUDE, "-o", str(wrap),
                    os.path.join(ROOT, "bindings", "swig", "ruphin.i")], check=True)
    lib = tmp_path / lib_name
    subprocess.run(["cc", "-shared", "-fPIC", *["-I" + i for i in includes], "-I" + INCLUDE,
                    str(wrap), *glob.glob(os.path.join(ROOT, "core", "src", "*.c")),
                    "-lpthread", "-o", str(lib)], check=True)
    return lib


def test_tcl_binding_round_trip(tmp_path, tool_missing):
    if not shutil.which("swig") or not shutil.which("tclsh") or \
            not os.path.exists(os.path.join(TCL_INCLUDE, "tcl.h")):
        tool_missing("swig, tclsh or tcl-dev is missing")
    lib = build(tmp_path, ["-tcl8"], [TCL_INCLUDE], "ruphin.so")
    result = subprocess.run(["tclsh", os.path.join(HERE, "loopback.tcl"), str(lib)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "echo: hello from tcl" in result.stdout
    assert "holepuncher runner: SESSION_REGISTERED SESSION_JOINED" in result.stdout
    assert "batch: 3 sent, got one two three" in result.stdout


def jdk_home():
    """The JDK of the javac on PATH (its include/ has jni.h), or None."""
    javac = shutil.which("javac")
    if javac is None or shutil.which("java") is None:
        return None
    home = os.path.dirname(os.path.dirname(os.path.realpath(javac)))
    return home if os.path.exists(os.path.join(home, "include", "jni.h")) else None


def test_java_binding_round_trip(tmp_path, tool_missing):
    jdk = jdk_home()
    if not shutil.which("swig") or jdk is None:
        tool_missing("swig or a JDK is missing (Debian: swig, openjdk-17-jdk-headless)")
    java_src = tmp_path / "ruphin"
    java_src.mkdir()
    lib = build(tmp_path, ["-java", "-package", "ruphin", "-outdir", str(java_src)],
                [os.path.join(jdk, "include"), os.path.join(jdk, "include", "linux")],
                "libruphin_jni.so")
    classes = tmp_path / "classes"
    subprocess.run(["javac", "-d", str(classes), *glob.glob(str(java_src / "*.java")),
                    os.path.join(HERE, "Loopback.java")], check=True, timeout=300)
    result = subprocess.run(["java", "-cp", str(classes), "Loopback", str(lib)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "echo: hello from java" in result.stdout
