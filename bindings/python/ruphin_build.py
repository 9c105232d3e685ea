"""cffi builder (out-of-line API mode): compiles the C core's sources into
ruphin._ruphin. The declarations are read from the public header, between
its ffi-begin and ffi-end markers, so they are never written twice."""
import glob
import os
import re
import shutil
import subprocess

from cffi import FFI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = os.path.join(ROOT, "core", "include", "ruphin.h")


def declarations():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    block = text.split("/* ffi-begin */", 1)[1].split("/* ffi-end */", 1)[0]
    return re.sub(r"\bRUPHIN_API\s+", "", block)


def sodium():
    """Sealed sessions need libsodium: (macros, include dirs, libraries) for
    it, found by pkg-config. RUPHIN_SODIUM=0 builds without it, =1 insists."""
    wanted = os.environ.get("RUPHIN_SODIUM", "auto")
    if wanted != "0" and shutil.which("pkg-config"):
        found = subprocess.run(["pkg-config", "--cflags-only-I", "--libs-only-l", "libsodium"],
                               capture_output=True, text=True)
        if found.returncode == 0:
            flags = found.stdout.split()
            return ([("RUPHIN_WITH_SODIUM", None)], [f[2:] for f in flags if f.startswith("-I")],
                    [f[2:] for f in flags if f.startswith("-l")])
    if wanted == "1":
        raise SystemExit("RUPHIN_SODIUM=1 but pkg-config found no libsodium (Debian: libsodium-dev)")
    return [], [], []


SODIUM_MACROS, SODIUM_INCLUDES, SODIUM_LIBRARIES = sodium()
ffibuilder = FFI()
ffibuilder.cdef(declarations())
ffibuilder.set_source(
    "ruphin._ruphin",
    '#include "ruphin.h"',
    sources=sorted(os.path.relpath(p, ROOT)
                   for p in glob.glob(os.path.join(ROOT, "core", "src", "*.c"))),
    include_dirs=[os.path.join(ROOT, "core", "include"), os.path.join(ROOT, "core", "src"),
                  *SODIUM_INCLUDES],
    define_macros=SODIUM_MACROS,
    extra_compile_args=["-std=c11", "-fvisibility=hidden"],
    libraries=["pthread", *SODIUM_LIBRARIES],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
