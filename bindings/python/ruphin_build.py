"""cffi builder (out-of-line API mode): compiles the C core's sources into
ruphin._ruphin. The declarations are read from the public header, between
its ffi-begin and ffi-end markers, so they are never written twice."""
import glob
import os
import re

from cffi import FFI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = os.path.join(ROOT, "core", "include", "ruphin.h")


def declarations():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    block = text.split("/* ffi-begin */", 1)[1].split("/* ffi-end */", 1)[0]
    return re.sub(r"\bRUPHIN_API\s+", "", block)


ffibuilder = FFI()
ffibuilder.cdef(declarations())
ffibuilder.set_source(
    "ruphin._ruphin",
    '#include "ruphin.h"',
    sources=sorted(os.path.relpath(p, ROOT)
                   for p in glob.glob(os.path.join(ROOT, "core", "src", "*.c"))),
    include_dirs=[os.path.join(ROOT, "core", "include"), os.path.join(ROOT, "core", "src")],
    extra_compile_args=["-std=c11", "-fvisibility=hidden"],
    libraries=["pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
