"""Builds the cffi extension (ruphin._ruphin) from the C core's sources."""
import os

from setuptools import setup

setup(
    cffi_modules=["bindings/python/ruphin_build.py:ffibuilder"],
    # Out of CMake's build/; RUPHIN_PY_BUILD lets a second variant (the
    # sanitizer build of scripts/test.sh) compile apart from the first.
    options={"build": {"build_base": os.environ.get("RUPHIN_PY_BUILD", "build-python")}},
)
