"""bench/hp_input.c, the holepuncher's state machine driven without sockets:
it builds and, for every mode, handles the requests it says (counted by what
the state machine sent and the sessions it holds). No speed is asserted."""
import glob
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_mode_runs(tmp_path):
    binary = str(tmp_path / "hp_input")
    subprocess.run(["cc", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                    "-I", os.path.join(ROOT, "core", "src"), "-I", os.path.join(ROOT, "core", "include"),
                    os.path.join(ROOT, "bench", "hp_input.c"),
                    *glob.glob(os.path.join(ROOT, "core", "src", "*.c")), "-lpthread", "-o", binary],
                   check=True)
    sessions, requests = 1000, 2000
    # (answers per request, sessions added per request) after the filling's
    # one RegisterAck per session
    expect = {"refresh": (1, 0), "join": (2, 0), "join-miss": (1, 0), "register": (1, 1)}
    for mode, (answers, added) in expect.items():
        out = subprocess.run([binary, mode, "16", str(sessions), str(requests)],
                             capture_output=True, text=True, check=True, timeout=120)
        result = json.loads(out.stdout)
        assert result["requests"] == requests and result["ns_per_request"] > 0, result
        assert 0 < result["longest_batch_ms"] < 60000, result
        assert result["sent"] == sessions + answers * requests, result
        assert result["live"] == sessions + added * requests, result
    # register-level: new ids while as many expire; the table holds about
    # `sessions` (expiry runs before each batch of 16)
    out = subprocess.run([binary, "register-level", "16", str(sessions), str(requests)],
                         capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["sent"] == sessions + requests, result
    assert sessions - 16 <= result["live"] <= sessions + 16, result
    assert subprocess.run([binary, "nope"], capture_output=True).returncode == 2
