"""The blocking helpers (connect, recv, wait_registered) keep the events
they skip: poll() and poll_many() hand those out first, in the order they
came, as ruphin.aio and ruphin.co do (issue 23, item 7)."""
import threading
import time

import pytest

import ruphin
from pyhelpers import FAST, pump, saw, serving

E = ruphin.EventType


def drain(node):
    """Every event poll(0) has now."""
    events = []
    while (ev := node.poll(0)) is not None:
        events.append(ev)
    return events


def in_thread(fn):
    """Runs fn in a thread; join() re-raises what it raised."""
    result = {}

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 (handed to the test's thread)
            result["error"] = e

    thread = threading.Thread(target=run)
    thread.start()

    def join():
        thread.join(10)
        assert not thread.is_alive()
        if "error" in result:
            raise result["error"]
    return join


def test_server_recv_keeps_the_connected_of_another_client(connected):
    """While recv() waits for DATA, a second client is announced and
    connects: poll() reports both afterwards, in order. (Before, recv()
    dropped them: poll(0) returned None.)"""
    hp, server, first = connected
    with serving(hp), ruphin.Client(hp.local_address, b"game", **FAST) as second:
        def connect_and_send():
            second.connect(timeout=5)
            second.send(b"from the second")
        join = in_thread(connect_and_send)
        data, peer = server.recv(timeout=5)
        join()
        assert data == b"from the second"
        events = drain(server)
        types = [e.type for e in events]
        assert types[:2] == [E.PEER_ANNOUNCED, E.CONNECTED]
        # On one host the server may then meet the client at another of its
        # addresses and forget the first: DISCONNECTED, CONNECTED.
        assert set(types[2:]) <= {E.DISCONNECTED, E.CONNECTED}
        assert peer in [e.peer for e in events if e.type == E.CONNECTED]


def test_client_recv_keeps_a_wake(connected):
    """A wake() that lands while recv() waits is not lost: the next poll()
    returns it at once."""
    _, server, client = connected
    client.send(b"ping")
    _, peer = server.recv(timeout=5)
    client.wake()
    server.send(b"after the wake", peer)
    assert client.recv(timeout=5) == b"after the wake"
    assert client.timeout() == 0  # a selector loop must poll now
    ev = client.poll(0)
    assert ev.type == E.WAKE
    assert client.poll(0) is None


def test_wait_registered_keeps_what_came_first_in_order(hp):
    """Wakes that came before REGISTERED are kept, in order; REGISTERED
    itself is the helper's. poll_many hands the kept ones out first."""
    with ruphin.Server(hp.local_address, b"kept", **FAST) as server, serving(hp):
        for _ in range(3):
            server.wake()
        server.wait_registered(timeout=5)
        assert server.state == ruphin.State.REGISTERED
        deadline = server.deadline
        assert deadline is not None and deadline <= time.monotonic()
        batch = server.poll_many(0, max_events=2)
        assert [e.type for e in batch] == [E.WAKE, E.WAKE]
        assert [e.type for e in server.poll_many(0)] == [E.WAKE]
        assert server.poll_many(0) == []
        assert server.stats()["events_dropped"] == 0


def test_kept_events_are_bounded_and_drops_are_counted(hp):
    """At most backlog events are kept; the oldest go first, counted in
    stats()["events_dropped"]."""
    with ruphin.Server(hp.local_address, b"bounded", **FAST) as server, serving(hp):
        server.backlog = 2
        for _ in range(5):
            server.wake()
        server.wait_registered(timeout=5)
        assert [e.type for e in drain(server)] == [E.WAKE, E.WAKE]
        assert server.stats()["events_dropped"] == 3


def test_a_helper_that_times_out_keeps_what_it_skipped():
    """Nobody answers: wait_registered() times out, and the wake stays."""
    with ruphin.Holepuncher(("127.0.0.1", 0)) as silent, \
            ruphin.Server(silent.local_address, b"s", **FAST) as server:
        server.wake()
        with pytest.raises(ruphin.Timeout):
            server.wait_registered(timeout=0.2)
        assert server.poll(0).type == E.WAKE


def test_a_helper_that_fails_keeps_what_it_skipped(hp):
    """connect() raises the failure; the events before it stay for poll(),
    after which the node reports that it failed."""
    with ruphin.Client(hp.local_address, b"missing", **FAST) as client, serving(hp):
        client.wake()
        with pytest.raises(ruphin.SessionNotFound):
            client.connect(timeout=5)
        assert client.poll(0).type == E.WAKE
        with pytest.raises(ruphin.Failed):
            client.poll(0)


def test_connect_keeps_peer_announced_and_early_data_follows_it(hp):
    """The server greets each client as soon as it connects, so its DATA
    comes right with the client's CONNECTED. connect() consumes CONNECTED
    only: PEER_ANNOUNCED (which it skipped) and then the greeting come out
    of poll() in the order they arrived."""
    with ruphin.Server(hp.local_address, b"greet", **FAST) as server, \
            ruphin.Client(hp.local_address, b"greet", **FAST) as client, serving(hp):
        pump(server, until=saw(server, E.REGISTERED))
        stop = threading.Event()

        def greet():
            while not stop.is_set():
                ev = server.poll(0.01)
                if ev is not None and ev.type == E.CONNECTED:
                    try:
                        server.send(b"welcome", ev.peer)
                    except ruphin.UnknownPeer:
                        # On one host the server may meet the client at
                        # another of its addresses, then forget this one:
                        # the CONNECTED for the new one comes next.
                        pass
        join = in_thread(greet)
        try:
            assert client.connect(timeout=5) == client.server_address
            events = [client.poll(0)]  # kept: at once, no waiting
            while events[-1] is not None and events[-1].type != E.DATA:
                events.append(client.poll(5))
        finally:
            stop.set()
            join()
        assert events[0].type == E.PEER_ANNOUNCED
        assert (events[-1].type, events[-1].data) == (E.DATA, b"welcome")


def test_recv_takes_data_a_helper_kept(hp):
    """DATA that arrives while wait_registered() waits (the server lost its
    registration; its clients still talk to it) is kept, and the next
    recv() returns it before newer DATA; the other events stay for poll()."""
    # The server gives its registration, and its clients, 0.9 s of silence;
    # the client keeps it alive every 0.1 s and gives it 3 s.
    quick_server = dict(FAST, keepalive_ms=300, missed_keepalives=3)
    quick_client = dict(FAST, keepalive_ms=100, missed_keepalives=30)
    with ruphin.Server(hp.local_address, b"relost", **quick_server) as server:
        pump(hp, server, until=saw(server, E.REGISTERED))
        with ruphin.Client(hp.local_address, b"relost", **quick_client) as client:
            pump(hp, server, client, until=lambda ev: saw(client, E.CONNECTED)(ev)
                 and saw(server, E.CONNECTED)(ev))
            # The holepuncher stops answering: the server's refreshes go unanswered.
            pump(server, client, until=saw(server, E.REGISTRATION_LOST))
            assert server.state == ruphin.State.REGISTERING
            client.send(b"while re-registering")
            with serving(hp):  # now it answers the server's Register again
                server.wait_registered(timeout=5)
            client.send(b"after")
            assert server.recv(timeout=5)[0] == b"while re-registering"
            assert server.recv(timeout=5)[0] == b"after"
            assert E.DATA not in [e.type for e in drain(server)]


def test_a_closed_node_refuses_poll_even_with_kept_events(hp):
    with ruphin.Server(hp.local_address, b"closing", **FAST) as server, serving(hp):
        server.wake()
        server.wait_registered(timeout=5)
    with pytest.raises(ruphin.InvalidArgument):
        server.poll(0)
    with pytest.raises(ruphin.InvalidArgument):
        server.poll_many(0)
