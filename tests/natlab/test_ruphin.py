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
    # Two symmetric NATs have no sure direct path: that pair needs the relay.
    # A server scans a client's ports only when the holepuncher vouches for
    # the client's address by offering the relay: on wherever a symmetric
    # NAT takes part.
    relay = server_kind == client_kind == "symmetric"
    symmetric = "symmetric" in (server_kind, client_kind)
    hp_args = matrix.relay_args(ruphin_bin).split() if symmetric else []
    results = [matrix.trial(ruphin_bin, server_kind, client_kind, delay_ms, hp_args=hp_args)
               for _ in range(TRIALS)]
    assert all(r.ok for r in results), [r.why for r in results]
    if relay:  # or direct, when both scans happen to meet (docs/NAT.md)
        assert all(r.path in ("relay", "direct") for r in results), [r.path for r in results]
        return
    expected = "lan" if server_kind == natlab.SAME_NAT else "direct"
    assert [r.path for r in results] == [expected] * TRIALS
