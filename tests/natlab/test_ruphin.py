"""ruphin through the NAT lab: the pairs CI covers (matrix.CI_PAIRS), which
the current punching passes. The whole matrix is `tests/natlab/matrix.py`
(docs/NAT.md); pairs that do not pass yet are reported there, not here."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402
import matrix  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.natlab]
WHY = natlab.available()
if WHY:
    pytestmark.append(pytest.mark.skip(reason=WHY))


@pytest.mark.parametrize("server_kind,client_kind", matrix.CI_PAIRS)
def test_ruphin_connects(ruphin_bin, server_kind, client_kind):
    result = matrix.trial(ruphin_bin, server_kind, client_kind)
    assert result.ok, result.why


def test_ruphin_connects_with_delay(ruphin_bin):
    results = [matrix.trial(ruphin_bin, "restricted", "restricted", delay_ms=10)
               for _ in range(3)]
    assert all(r.ok for r in results), [r.why for r in results]
