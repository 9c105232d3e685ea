"""ruphin through the NAT lab: the cases CI covers (matrix.CI_CASES), which
the current punching passes in every trial of the matrix. The whole matrix
is `tests/natlab/matrix.py` (docs/NAT.md); pairs and conditions that do not
pass yet are measured and reported there, not asserted here."""
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

TRIALS = 2


@pytest.mark.parametrize("server_kind,client_kind,delay_ms", matrix.CI_CASES)
def test_ruphin_connects(ruphin_bin, server_kind, client_kind, delay_ms):
    # Two symmetric NATs have no direct path: that pair needs the relay.
    relay = server_kind == client_kind == "symmetric"
    hp_args = matrix.relay_args(ruphin_bin).split() if relay else []
    results = [matrix.trial(ruphin_bin, server_kind, client_kind, delay_ms, hp_args=hp_args)
               for _ in range(TRIALS)]
    assert all(r.ok for r in results), [r.why for r in results]
    expected = "relay" if relay else "lan" if server_kind == natlab.SAME_NAT else "direct"
    assert [r.path for r in results] == [expected] * TRIALS
