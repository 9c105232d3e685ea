"""The Lua and Go bindings keep up with the header: every option, error code
and event of ruphin.h is reachable from both (the SWIG interface includes the
header itself; the Python binding feeds it to cffi)."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = open(os.path.join(ROOT, "core", "include", "ruphin.h")).read()
BINDINGS = {
    "lua": [os.path.join(ROOT, "bindings", "lua", "ruphin_lua.c")],
    "go": [os.path.join(ROOT, "bindings", "go", name)
           for name in ("ruphin.go", "errors.go", "options.go")],
}


def constants(prefix):
    return sorted(set(re.findall(rf"\b{prefix}(\w+) = ", HEADER)))


# (binding, prefix, how the source spells a constant NAME). Lua has no event
# list: its events carry the core's own names (ruphin_event_name); its
# ruphin.errors table is built with ERR(NAME), which pastes the prefix on.
CASES = [
    ("lua", "RUPHIN_OPT_", "RUPHIN_OPT_{}"),
    ("lua", "RUPHIN_ERR_", "ERR({})"),
    ("go", "RUPHIN_OPT_", "RUPHIN_OPT_{}"),
    ("go", "RUPHIN_ERR_", "RUPHIN_ERR_{}"),
    ("go", "RUPHIN_EVENT_", "RUPHIN_EVENT_{}"),
]


@pytest.mark.parametrize("binding,prefix,spelling", CASES)
def test_binding_names_every_constant(binding, prefix, spelling):
    source = "".join(open(path).read() for path in BINDINGS[binding])
    missing = [name for name in constants(prefix)
               if name != "NONE" and spelling.format(name) not in source]  # EVENT_NONE: never
    assert not missing, f"{binding} lacks {prefix}{missing}"
