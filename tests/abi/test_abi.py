"""The stable ABI is checked (docs/API.md, "ABI stability").

scripts/abi-check.sh compares the build's libruphin.so and the public
header with the baseline committed under abi/, with libabigail. These tests
run it against the build, and prove it can fail: variants of the library
are compiled in a temporary directory from a copy of core/ with a patched
ruphin.h (the checkout is never touched), the way CMake compiles the shared
library, and checked against a baseline recorded from an unpatched copy.
"""
import os
import platform
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, "scripts", "abi-check.sh")
BASELINE = os.path.join(ROOT, "abi")

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="the committed baseline is x86_64's")


@pytest.fixture(scope="module")
def abi_tools(tool_missing):
    for tool in ("abidw", "abidiff", "cc"):
        if shutil.which(tool) is None:
            tool_missing(f"{tool} is not installed (Debian: abigail-tools, build-essential)")


def check(*args, baseline=None):
    """Runs scripts/abi-check.sh; returns (status, stdout + stderr)."""
    argv = ["bash", CHECK, *map(str, args)]
    if baseline is not None:
        argv += ["--baseline", str(baseline)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def edit(path, old, new):
    """Replaces the one occurrence of old in path (fails if there is none, so
    that a change to the header shows here rather than as a vacuous test)."""
    with open(path) as f:
        text = f.read()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def stat_count(header):
    """The "RUPHIN_STAT_COUNT = N" of header, and N."""
    with open(header) as f:
        n = int(re.search(r"RUPHIN_STAT_COUNT = (\d+)", f.read()).group(1))
    return f"RUPHIN_STAT_COUNT = {n}", n


def drop_line(path, needle):
    with open(path) as f:
        lines = f.readlines()
    kept = [line for line in lines if needle not in line]
    assert len(kept) == len(lines) - 1, f"{needle!r} is not on one line of {path}"
    with open(path, "w") as f:
        f.writelines(kept)


class Variants:
    """Libraries compiled from copies of core/, as CMakeLists.txt compiles the
    shared one (hidden visibility, RUPHIN_BUILDING, RUPHIN_SHARED, -g, the
    soname) but in one cc call, by default at -O0 and without libsodium:
    neither changes the recorded ABI, which the determinism test shows."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.built = {}

    def build(self, name, patch=None, soname="libruphin.so.0", flags=("-O0",)):
        if name not in self.built:
            top = self.tmp / name
            shutil.copytree(os.path.join(ROOT, "core", "include"), top / "include")
            shutil.copytree(os.path.join(ROOT, "core", "src"), top / "src")
            if patch:
                patch(str(top / "include" / "ruphin.h"), str(top / "src"))
            sources = sorted(str(top / "src" / f) for f in os.listdir(top / "src")
                             if f.endswith(".c"))
            lib = top / "libruphin.so.0.1.0"
            result = subprocess.run(
                ["cc", "-shared", "-fPIC", "-g", *flags, "-std=c11", "-fvisibility=hidden",
                 "-DRUPHIN_BUILDING", "-DRUPHIN_SHARED", "-I", str(top / "include"),
                 *sources, "-pthread", *(["-lsodium"] if "-DRUPHIN_WITH_SODIUM" in flags else []),
                 f"-Wl,-soname,{soname}", "-o", str(lib)],
                capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            self.built[name] = (lib, top / "include")
        return self.built[name]

    def check(self, name, *args, baseline):
        lib, include = self.built[name]
        return check("--library", lib, "--include", include, *args, baseline=baseline)


@pytest.fixture(scope="module")
def variants(abi_tools, tmp_path_factory):
    return Variants(tmp_path_factory.mktemp("abi-variants"))


@pytest.fixture(scope="module")
def reference(variants, tmp_path_factory):
    """A baseline recorded from an unpatched copy of the sources (with the
    committed suppressions), to check the variants against."""
    variants.build("reference")
    base = tmp_path_factory.mktemp("abi-reference")
    shutil.copy(os.path.join(BASELINE, "ruphin.abignore"), base)
    status, out = variants.check("reference", "--update", baseline=base)
    assert status == 0, out
    return base


def test_the_build_keeps_the_committed_abi(abi_tools, build_dir):
    status, out = check("--library", os.path.join(build_dir, "libruphin.so"))
    assert status == 0, out
    assert "abi-check: OK" in out


def test_the_baseline_is_small_and_depends_on_nothing_but_the_abi(variants, tmp_path):
    for name in ("libruphin.abi", "ruphin.h.abi", "ruphin.abignore"):
        path = os.path.join(BASELINE, name)
        assert os.path.getsize(path) < 200_000, f"{path} grew past 200 KB"
    with open(os.path.join(BASELINE, "libruphin.abi")) as f:
        text = f.read()
    assert "soname='libruphin.so.0'" in text
    # Only the public interface: no internal function, no private struct.
    assert re.findall(r"<function-decl name='(?!ruphin_)", text) == []
    assert "rp_" not in text
    # The same sources recorded from two builds in two places, one as CMake
    # builds (-O2, libsodium when there is one), one at -O0 without it: the
    # same bytes, with no path in them.
    flags = ["-O2", "-DNDEBUG"]
    if os.path.exists("/usr/include/sodium.h"):
        flags.append("-DRUPHIN_WITH_SODIUM")
    variants.build("reference")
    variants.build("reference_o2", flags=tuple(flags))
    dumps = []
    for name in ("reference", "reference_o2"):
        status, out = variants.check(name, "--update", baseline=tmp_path / name)
        assert status == 0, out
        dumps.append({f: (tmp_path / name / f).read_bytes()
                      for f in ("libruphin.abi", "ruphin.h.abi")})
    assert dumps[0] == dumps[1]
    for blob in dumps[0].values():
        assert str(variants.tmp).encode() not in blob and str(tmp_path).encode() not in blob
        assert ROOT.encode() not in blob and b"path='/" not in blob


def test_an_unchanged_library_passes(variants, reference):
    status, out = variants.check("reference", baseline=reference)
    assert status == 0, out
    assert "OK, the ABI of the baseline" in out


def remove_function(header, src):
    # Its definition stays, but without the header's RUPHIN_API it is no
    # longer exported.
    drop_line(header, "ruphin_version_number(void);")


def grow_addr_in_the_middle(header, src):
    edit(header, "    uint8_t reserved;\n", "    uint8_t reserved;\n    uint32_t flags;\n")


def grow_event_at_the_end(header, src):
    # ruphin_poll_batch's callers index their array with the size of theirs.
    edit(header, "    size_t len;\n} ruphin_event;", "    size_t len;\n    uint32_t flags;\n} ruphin_event;")


def change_event_value(header, src):
    edit(header, "RUPHIN_EVENT_FAILED = 7,", "RUPHIN_EVENT_FAILED = 17,")


def change_option_value(header, src):
    # Two swapped: each stays inside the library's table of options.
    edit(header, "RUPHIN_OPT_WORKERS = 17,", "RUPHIN_OPT_WORKERS = 18,")
    edit(header, "RUPHIN_OPT_WORKER = 18,", "RUPHIN_OPT_WORKER = 17,")


def change_constant(header, src):
    edit(header, "RUPHIN_ADDRSTRLEN = 64,", "RUPHIN_ADDRSTRLEN = 48,")


def change_signature(header, src):
    edit(header, "ruphin_stat(const ruphin_node *node, int32_t stat);",
         "ruphin_stat(const ruphin_node *node, int64_t stat);")
    edit(os.path.join(src, "node.c"), "ruphin_stat(const ruphin_node *node, int32_t stat)",
         "ruphin_stat(const ruphin_node *node, int64_t stat)")


def drop_enumerator(header, src):
    # Out of the enum, into a macro, so that the sources still compile.
    edit(header, "    RUPHIN_ROLE_CLIENT = 3\n} ruphin_role_type;",
         "} ruphin_role_type;\n#define RUPHIN_ROLE_CLIENT 3")


@pytest.mark.parametrize("patch, names", [
    (remove_function, ["ruphin_version_number", "Removed function"]),
    (grow_addr_in_the_middle, ["struct ruphin_addr", "uint32_t flags", "struct ruphin_event"]),
    (grow_event_at_the_end, ["struct ruphin_event", "type size changed from 384 to 448"]),
    (change_event_value, ["RUPHIN_EVENT_FAILED", "from value '7' to '17'"]),
    (change_option_value, ["RUPHIN_OPT_WORKERS", "from value '17' to '18'"]),
    (change_constant, ["RUPHIN_ADDRSTRLEN", "from value '64' to '48'"]),
    (change_signature, ["ruphin_stat", "int64_t"]),
    (drop_enumerator, ["RUPHIN_ROLE_CLIENT", "enumerator deletion"]),
], ids=lambda p: p.__name__ if callable(p) else "")
def test_an_incompatible_change_fails(variants, reference, patch, names):
    variants.build(patch.__name__, patch)
    status, out = variants.check(patch.__name__, baseline=reference)
    assert status == 1, out
    assert "INCOMPATIBLE with the baseline" in out and "abi-check: FAILED" in out, out
    for name in names:
        assert name in out, f"{name!r} not in the report:\n{out}"


def add_things(header, src):
    edit(header, "/* ffi-end */",
         "RUPHIN_API int32_t ruphin_abi_test_added(void);\n\n/* ffi-end */")
    with open(os.path.join(src, "errors.c"), "a") as f:
        f.write("\nint32_t ruphin_abi_test_added(void)\n{\n    return 1;\n}\n")
    edit(header, "RUPHIN_ROLE_CLIENT = 3\n", "RUPHIN_ROLE_CLIENT = 3,\n    RUPHIN_ROLE_ABI_TEST = 4\n")
    # A counter at the end: RUPHIN_STAT_COUNT grows with it.
    count, n = stat_count(header)
    edit(header, count, f"RUPHIN_STAT_ABI_TEST = {n},\n    RUPHIN_STAT_COUNT = {n + 1}")


def test_additions_pass_and_are_reported(variants, reference, tmp_path):
    variants.build("add_things", add_things)
    status, out = variants.check("add_things", baseline=reference)
    assert status == 0, out
    assert "OK, compatible changes" in out
    assert "INCOMPATIBLE" not in out
    for name in ("ruphin_abi_test_added", "RUPHIN_ROLE_ABI_TEST", "RUPHIN_STAT_ABI_TEST"):
        assert name in out, f"{name!r} not in the report:\n{out}"
    # Recording them is allowed, and then they are part of the promise.
    base = tmp_path / "base"
    shutil.copytree(reference, base)
    status, out = variants.check("add_things", "--update", baseline=base)
    assert status == 0, out
    status, out = variants.check("add_things", baseline=base)
    assert status == 0 and "OK, the ABI of the baseline" in out, out
    status, out = variants.check("reference", baseline=base)
    assert status == 1 and "ruphin_abi_test_added" in out, out


def move_a_counter(header, src):
    count, n = stat_count(header)
    edit(header, count, f"RUPHIN_STAT_COUNT = {n + 1}")
    edit(header, "RUPHIN_STAT_PEERS = 9,", f"RUPHIN_STAT_PEERS = {n},")


def drop_a_counter(header, src):
    # Out of the enum, into a macro, along with RUPHIN_STAT_COUNT growing.
    count, n = stat_count(header)
    edit(header, count + "\n} ruphin_stat_id;",
         f"RUPHIN_STAT_COUNT = {n + 1}\n}} ruphin_stat_id;\n#define RUPHIN_STAT_RX_REJECTED 11")
    edit(header, "RUPHIN_STAT_RX_REJECTED = 11,", "/* gone */")


def test_the_reserved_byte_may_get_a_name(variants, reference):
    # ruphin_addr.reserved may gain a meaning (docs/API.md): same place, same type.
    def name_reserved(header, src):
        edit(header, "    uint8_t reserved;\n", "    uint8_t flags;\n")
    variants.build("name_reserved", name_reserved)
    status, out = variants.check("name_reserved", baseline=reference)
    assert status == 0 and "OK, compatible changes" in out, out
    assert "name of 'ruphin_addr::reserved' changed to 'ruphin_addr::flags'" in out, out


@pytest.mark.parametrize("patch, name", [(move_a_counter, "RUPHIN_STAT_PEERS"),
                                         (drop_a_counter, "RUPHIN_STAT_RX_REJECTED")],
                         ids=["moved", "dropped"])
def test_stat_count_may_grow_but_no_other_counter_may_change(variants, reference, patch, name):
    # scripts/abi-check.sh lets RUPHIN_STAT_COUNT change: not the others
    # along with it.
    variants.build(patch.__name__, patch)
    status, out = variants.check(patch.__name__, baseline=reference)
    assert status == 1 and name in out, out


def test_a_break_passes_only_with_a_new_soname_and_a_new_baseline(variants, reference, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(reference, base)
    before = {p.name: p.read_bytes() for p in base.iterdir()}

    # Same soname: the check fails and --update refuses to record the break.
    variants.build("remove_function", remove_function)
    status, out = variants.check("remove_function", "--update", baseline=base)
    assert status == 1 and "refusing" in out, out
    assert {p.name: p.read_bytes() for p in base.iterdir()} == before

    # A new soname, the baseline left behind: still a failure, naming the fix.
    variants.build("remove_function_so1", remove_function, soname="libruphin.so.1")
    status, out = variants.check("remove_function_so1", baseline=base)
    assert status == 1, out
    assert "the soname moved (libruphin.so.0 -> libruphin.so.1)" in out
    assert "scripts/abi-check.sh --update" in out

    # Both moved together: recorded, and then the check passes.
    status, out = variants.check("remove_function_so1", "--update", baseline=base)
    assert status == 0, out
    with open(base / "libruphin.abi") as f:
        assert "soname='libruphin.so.1'" in f.read()
    status, out = variants.check("remove_function_so1", baseline=base)
    assert status == 0 and "OK, the ABI of the baseline" in out, out


def test_a_library_without_debug_info_is_an_error(variants, reference, tmp_path):
    lib, include = variants.build("reference")
    stripped = tmp_path / "libruphin.so.0"
    subprocess.run(["strip", "--strip-debug", "-o", str(stripped), str(lib)], check=True)
    status, out = check("--library", stripped, "--include", include, baseline=reference)
    assert status == 2 and "no debug info" in out, out
