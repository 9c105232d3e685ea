"""Helpers for the Python package's tests: fast timers, a poll pump, a
background poller."""
import contextlib
import subprocess
import threading
import time

import ruphin

FAST = dict(retransmit_ms=20, retransmit_max_ms=100, punch_interval_ms=20,
            handshake_timeout_ms=3000)


def pump(*nodes, until=lambda events: False, timeout=5.0):
    """Polls every node without waiting until until(events) is true, where
    events is the list of (node, event) seen so far. Returns that list."""
    events = []
    live = list(nodes)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for node in list(live):
            try:
                while (ev := node.poll(0)) is not None:
                    events.append((node, ev))
            except ruphin.Failed:  # it reported why already; stop polling it
                live.remove(node)
        if until(events):
            return events
        time.sleep(0.001)
    raise AssertionError(f"condition not met in {timeout}s; events: {events}")


def saw(node, event_type):
    """A condition for pump: node reported an event of that type."""
    return lambda events: any(n is node and e.type == event_type for n, e in events)



@contextlib.contextmanager
def serving(node):
    """Polls node in a background thread for the duration of the block (the
    node belongs to that thread meanwhile)."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            node.poll(0.01)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield node
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def direct_path_blocked(a, b):
    """Drops every datagram between nodes a and b on loopback (iptables, so
    root) for the duration of the block: their only path is the relay."""
    rules = [["-p", "udp", "--sport", str(x[1]), "--dport", str(y[1]), "-j", "DROP"]
             for x, y in ((a.local_address, b.local_address),
                          (b.local_address, a.local_address))]
    for rule in rules:
        subprocess.run(["iptables", "-I", "OUTPUT", *rule], check=True)
    try:
        yield
    finally:
        for rule in rules:
            subprocess.run(["iptables", "-D", "OUTPUT", *rule], check=False)
