"""The Python package as users get it: `python -m build --no-isolation` makes
an sdist holding every source the build needs and a platform wheel; each is
installed into a fresh venv with pip (no index) and tests/python runs against
the installed package, from a directory outside the checkout.

The wheel is built from the unpacked sdist, not from the checkout: a file
missing from MANIFEST.in fails the build there. A plugin loaded into each
child pytest records which `ruphin` the tests imported, so a run that picked
up the checkout (or another venv) fails even if its tests pass.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.path.join(ROOT, "bindings", "python", "ruphin")
MODULES = ("build", "setuptools", "wheel", "cffi", "venv", "ensurepip", "pytest", "hypothesis")

# Paths where a build must never leave anything: setuptools' default
# build_base is build/, which is CMake's (setup.py moves it to build-python/);
# a compiled module next to the sources or at the root could shadow the
# installed package.
ARTEFACT_GLOBS = ("build/lib.*", "build/temp.*", "build/bdist.*", "dist", "ruphin*.so",
                  "_ruphin*", "bindings/python/ruphin/_ruphin*", "bindings/python/_ruphin*",
                  "tests/python/ruphin*", "tests/python/_ruphin*")

# What the child pytest records (loaded with -p from its working directory).
ORIGIN_PLUGIN = '''
import json, os, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
def pytest_runtest_logreport(report):
    if report.failed:
        counts["failed"] += 1
    elif report.skipped:
        counts["skipped"] += 1
    elif report.when == "call":
        counts["passed"] += 1
def pytest_sessionfinish(session, exitstatus):
    ruphin, ext = sys.modules.get("ruphin"), sys.modules.get("ruphin._ruphin")
    with open(os.environ["RUPHIN_ORIGIN_REPORT"], "w") as f:
        json.dump({"ruphin": getattr(ruphin, "__file__", None),
                   "ext": getattr(ext, "__file__", None),
                   "sys_path": sys.path, **counts}, f)
'''

# What an installed package says about itself (run by each venv's python).
DESCRIBE = '''
import importlib.metadata, json, ruphin
from ruphin import ffi, lib
print(json.dumps({"file": ruphin.__file__, "ext": ruphin._ruphin.__file__,
                  "version": ruphin.__version__,
                  "c_version": ffi.string(lib.ruphin_version()).decode(),
                  "c_number": lib.ruphin_version_number(),
                  "dist_version": importlib.metadata.version("ruphin"),
                  "seal": ruphin.SEAL_SUPPORTED}))
'''

# The interpreter's wheel tags and extension suffixes (run by the builder).
INTERPRETER = '''
import importlib.machinery, json, sys, sysconfig
try:
    from packaging import tags
    sys_tags = [str(t) for t in tags.sys_tags()]
except ImportError:
    sys_tags = None
print(json.dumps({"impl": sys.implementation.name, "version": list(sys.version_info[:2]),
                  "platform": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
                  "suffixes": importlib.machinery.EXTENSION_SUFFIXES, "sys_tags": sys_tags}))
'''

# ELF e_machine of the platform tags a Linux wheel may carry.
ELF_MACHINES = {"x86_64": 62, "i686": 3, "aarch64": 183, "armv7l": 40, "ppc64le": 21,
                "s390x": 22, "riscv64": 243}


def child_env():
    """The environment for builds and venvs: nothing of this session's set-up
    (a sanitizer build's flags and preloads, a PYTHONPATH into the checkout)."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "LD_PRELOAD", "CFLAGS",
                 "LDFLAGS", "RUPHIN_PY_BUILD", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run_ok(argv, timeout=600, **kw):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                            timeout=timeout, env=child_env(), stdin=subprocess.DEVNULL, **kw)
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def header_version():
    with open(os.path.join(ROOT, "core", "include", "ruphin.h"), encoding="utf-8") as f:
        return re.search(r'RUPHIN_VERSION_STRING "([^"]+)"', f.read()).group(1)


def artefacts():
    return {p for pattern in ARTEFACT_GLOBS for p in glob.glob(os.path.join(ROOT, pattern))}


@pytest.fixture(scope="module")
def python(tool_missing):
    """An interpreter with build, setuptools, wheel, cffi, venv and the test
    tools: this one, or Debian's."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        if candidate and os.path.exists(candidate) and subprocess.run(
                [candidate, "-c", "import " + ", ".join(MODULES)], cwd="/",
                capture_output=True, env=child_env()).returncode == 0:
            return candidate
    tool_missing("no Python with " + ", ".join(MODULES) + " (Debian: python3-build, "
                 "python3-wheel, python3-setuptools, python3-cffi, python3-venv, "
                 "python3-pytest, python3-hypothesis)")


@pytest.fixture(scope="module")
def interpreter(python):
    return json.loads(run_ok([python, "-c", INTERPRETER], cwd="/"))


@pytest.fixture(scope="module")
def packages(python, tmp_path_factory):
    """Builds the sdist from the checkout, then the wheel from the unpacked
    sdist, as `python -m build` does but in steps that can be looked at."""
    work = tmp_path_factory.mktemp("packages")
    dist = work / "dist"
    before = artefacts()
    # cwd outside the checkout: there, CMake's build/ would be a namespace
    # package in the way of `-m build`.
    run_ok([python, "-m", "build", "--sdist", "--no-isolation", "--outdir", dist, ROOT], cwd=work)
    (sdist,) = glob.glob(str(dist / "*.tar.gz"))
    unpacked = work / "unpacked"
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (srcdir,) = unpacked.iterdir()
    run_ok([python, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, srcdir],
           cwd=work)
    (wheel,) = glob.glob(str(dist / "*.whl"))
    return {"sdist": sdist, "wheel": wheel, "srcdir": srcdir,
            "new_artefacts": sorted(artefacts() - before)}


@pytest.fixture(scope="module")
def venvs(python, packages, tmp_path_factory):
    """A fresh venv per package (Debian's cffi, pytest and hypothesis seen
    through --system-site-packages), the package installed by pip with no
    index, as a user without network would."""
    made = {}
    for kind in ("sdist", "wheel"):
        venv = tmp_path_factory.mktemp(f"venv-{kind}")
        run_ok([python, "-m", "venv", "--system-site-packages", venv], cwd=venv)
        py = venv / "bin" / "python"
        run_ok([py, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps",
                "-q", packages[kind]], cwd=venv)
        made[kind] = (venv, py)
    return made


@pytest.fixture(scope="module")
def suite_runs(venvs, tmp_path_factory):
    """tests/python run by each venv's python, both at once (they mostly wait
    on timers), each from an empty directory outside the checkout."""
    runs = {}
    for kind, (venv, py) in venvs.items():
        cwd = tmp_path_factory.mktemp(f"run-{kind}")
        (cwd / "ruphin_origin.py").write_text(ORIGIN_PLUGIN)
        report = cwd / "origin.json"
        env = {**child_env(), "RUPHIN_ORIGIN_REPORT": str(report)}
        proc = subprocess.Popen(
            [str(py), "-m", "pytest", "-p", "no:cacheprovider", "-p", "ruphin_origin", "-q",
             os.path.join(ROOT, "tests", "python")],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        runs[kind] = (proc, report, venv)
    yield runs
    for proc, _, _ in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def inside(path, directory):
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory


def test_sdist_holds_every_source_the_build_needs(packages):
    version = header_version()
    name = os.path.basename(packages["sdist"])
    assert name == f"ruphin-{version}.tar.gz"
    top = f"ruphin-{version}/"
    with tarfile.open(packages["sdist"]) as tar:
        members = {m.name[len(top):] for m in tar.getmembers()
                   if m.isfile() and m.name.startswith(top)}
    needed = {"PKG-INFO", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
              "bindings/python/ruphin_build.py", "core/include/ruphin.h"}
    needed |= {os.path.relpath(p, ROOT) for pattern in
               ("bindings/python/ruphin/*.py", "bindings/python/ruphin/py.typed",
                "core/src/*.c", "core/src/*.h", "LICENSE*", "COPYING*")
               for p in glob.glob(os.path.join(ROOT, pattern))}
    assert needed <= members, f"missing from the sdist: {sorted(needed - members)}"
    # Nothing built or local rides along.
    stray = [m for m in members if m.endswith((".so", ".o", ".pyc", ".pyd", ".dll"))
             or m.split("/")[0] in ("build", "build-python", ".venv", "dist")
             or os.path.basename(m) == "_ruphin.c"]
    assert not stray
    # And it was enough: the wheel was built from it alone.
    assert os.path.exists(packages["wheel"])


def test_wheel_is_tagged_for_this_platform_and_holds_the_extension(packages, interpreter,
                                                                   tool_missing, tmp_path):
    version = header_version()
    m = re.fullmatch(r"ruphin-([^-]+)-([^-]+)-([^-]+)-([^-]+)\.whl",
                     os.path.basename(packages["wheel"]))
    assert m, packages["wheel"]
    assert m.group(1) == version
    tag = "-".join(m.group(2, 3, 4))
    assert m.group(3) != "none" and m.group(4) != "any", f"{tag}: a pure wheel cannot hold a .so"
    if interpreter["impl"] == "cpython":
        cp = "cp%d%d" % tuple(interpreter["version"])
        assert tag == f"{cp}-{cp}-{interpreter['platform']}"
    if interpreter["sys_tags"] is not None:
        assert tag in interpreter["sys_tags"], "pip on this interpreter would refuse it"

    with zipfile.ZipFile(packages["wheel"]) as whl:
        names = set(whl.namelist())
        info = f"ruphin-{version}.dist-info/"
        wheel_meta = whl.read(info + "WHEEL").decode()
        metadata = whl.read(info + "METADATA").decode()
        extensions = [n for n in names if re.fullmatch(r"ruphin/_ruphin\..*", n)]
        assert len(extensions) == 1, extensions
        (extension,) = extensions
        so = tmp_path / os.path.basename(extension)
        so.write_bytes(whl.read(extension))

    # The WHEEL file agrees with the name (wheel 0.38 has no `wheel tags`).
    assert re.findall(r"^Tag: (.+)$", wheel_meta, re.M) == [tag]
    assert "Root-Is-Purelib: false" in wheel_meta
    assert f"\nVersion: {version}\n" in metadata and "\nName: ruphin\n" in metadata
    assert re.search(r"^Requires-Dist: cffi", metadata, re.M)

    python_files = {"ruphin/" + os.path.basename(p)
                    for p in glob.glob(os.path.join(PACKAGE_DIR, "*.py"))}
    assert python_files | {"ruphin/py.typed"} <= names
    # The C sources and the build script stay in the sdist.
    assert all(n.startswith(("ruphin/", info)) for n in names), sorted(names)

    # The extension is one this interpreter loads, for the machine the tag names.
    assert any(extension.endswith(s) for s in interpreter["suffixes"]), extension
    data = so.read_bytes()
    assert data[:4] == b"\x7fELF"
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    arch = interpreter["platform"].split("_", 1)[1] if "_" in interpreter["platform"] else ""
    if arch in ELF_MACHINES:
        assert machine == ELF_MACHINES[arch], (arch, machine)

    # It needs only the C library and, for sealed sessions, libsodium: what
    # docs/BINDINGS.md tells users to have (a manylinux wheel would vendor it).
    if shutil.which("readelf") is None:
        tool_missing("readelf is missing (Debian: binutils)")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        run_ok(["readelf", "-d", so]))
    assert all(n.startswith(("libc.so", "libpthread.so", "libsodium.so")) for n in needed), needed


def test_building_leaves_nothing_in_the_checkout_that_shadows_or_clutters(packages):
    """setup.py keeps setuptools out of CMake's build/ (build_base is
    build-python/); the sdist step writes only bindings/python/ruphin.egg-info
    (git-ignored, not on any sys.path), and the wheel is built elsewhere."""
    assert packages["new_artefacts"] == []
    # The wheel's build happened in the unpacked sdist, where setup.py put it.
    assert (packages["srcdir"] / "build-python").is_dir()


@pytest.mark.parametrize("kind", ["sdist", "wheel"])
def test_installed_package_reports_the_library_version(kind, venvs, packages, tmp_path):
    venv, py = venvs[kind]
    seen = json.loads(run_ok([py, "-c", DESCRIBE], cwd=tmp_path))
    version = header_version()
    assert inside(seen["file"], venv) and inside(seen["ext"], venv), seen
    assert seen["version"] == seen["c_version"] == seen["dist_version"] == version
    major, minor, patch = (int(x) for x in version.split("."))
    assert seen["c_number"] == major * 10000 + minor * 100 + patch
    if kind == "wheel":
        # Sealed sessions are there exactly when the extension links libsodium.
        with zipfile.ZipFile(packages["wheel"]) as whl:
            ext = next(n for n in whl.namelist() if n.startswith("ruphin/_ruphin."))
            assert (b"libsodium.so" in whl.read(ext)) == seen["seal"]


@pytest.mark.parametrize("kind", ["sdist", "wheel"])
def test_python_suite_passes_against_the_installed_package(kind, suite_runs):
    proc, report, venv = suite_runs[kind]
    try:
        output, _ = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"tests/python against the {kind} did not finish:\n{output[-5000:]}")
    assert proc.returncode == 0, output[-10000:]
    origin = json.loads(report.read_text())
    assert origin["passed"] > 0 and origin["failed"] == 0, (origin, output[-3000:])
    assert inside(origin["ruphin"], venv), origin["ruphin"]
    assert inside(origin["ext"], venv), origin["ext"]
    checkout_package = os.path.realpath(os.path.join(ROOT, "bindings", "python"))
    assert checkout_package not in {os.path.realpath(p) for p in origin["sys_path"] if p}
