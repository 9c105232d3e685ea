"""The data path in bulk: send_many and poll_many (ruphin_send_batch and
ruphin_poll_batch): datagrams arrive whole and in order, a failure stops a
batch and says how many went out, and events are the ones poll() gives."""
import time

import pytest

import ruphin

DATA = ruphin.EventType.DATA


def collect_data(node, count, timeout=3.0, max_events=ruphin.POLL_BATCH_MAX):
    """DATA events node gets with poll_many until count came; also the number
    of calls that returned something and the largest list one returned."""
    got, calls, largest = [], 0, 0
    end = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < end:
        events = node.poll_many(0.01, max_events)
        assert len(events) <= max_events
        calls += bool(events)
        largest = max(largest, len(events))
        got += [e for e in events if e.type == DATA]
    assert len(got) == count, got
    return got, calls, largest


def test_send_many_arrives_whole_in_order_with_few_calls(connected):
    hp, server, client = connected
    datagrams = [bytes([i]) * i for i in range(150)]  # 0..149 bytes: more than one batch
    before = client.stats()["tx_datagrams"]
    client.send_many(datagrams)
    assert client.stats()["tx_datagrams"] - before == 150
    got, calls, largest = collect_data(server, 150)
    assert [e.data for e in got] == datagrams
    assert {e.peer for e in got} == {("127.0.0.1", client.local_address[1])}
    # Loopback delivered all of them during the send: many per poll_many.
    assert calls <= 4 and largest == ruphin.POLL_BATCH_MAX


def test_server_send_many_to_a_client(connected):
    hp, server, client = connected
    client.send(b"hi")
    peer = collect_data(server, 1)[0][0].peer
    server.send_many([b"one", b"two", b"three"], peer)
    assert [e.data for e in collect_data(client, 3)[0]] == [b"one", b"two", b"three"]
    with pytest.raises(ruphin.UnknownPeer) as info:
        server.send_many([b"x"], ("127.0.0.1", 9))
    assert info.value.sent == 0


def test_any_bytes_like_items_and_iterables(connected):
    hp, server, client = connected
    items = [b"ab", bytearray(b"cd"), memoryview(b"efgh")[1:3],
             memoryview(bytes(range(8))).cast("I")]  # len() 2, 8 bytes
    client.send_many(iter(items))
    got = [e.data for e in collect_data(server, 4)[0]]
    assert got == [b"ab", b"cd", b"fg", bytes(range(8))]
    client.send_many([])  # nothing to send: no error


def test_a_failure_stops_the_batch_and_says_how_many_went(connected):
    hp, server, client = connected
    with pytest.raises(ruphin.TooLarge) as info:
        client.send_many([b"first", b"second", b"x" * 1025, b"never"])
    assert info.value.sent == 2
    assert [e.data for e in collect_data(server, 2)[0]] == [b"first", b"second"]
    assert server.poll_many(0.05) == []  # "never" was not sent
    with pytest.raises(ruphin.TooLarge) as info:
        client.send_many([b"x" * 1025])
    assert info.value.sent == 0
    client.send_many([b"after"])  # the node is fine
    assert collect_data(server, 1)[0][0].data == b"after"


def test_send_many_before_connecting(hp):
    client = ruphin.Client(hp.local_address, b"nobody-yet")
    with client, pytest.raises(ruphin.NotConnected) as info:
        client.send_many([b"x", b"y"])
    assert info.value.sent == 0


def test_poll_many_gives_what_poll_gives(connected):
    hp, server, client = connected
    client.send_many([b"%d" % i for i in range(10)])
    got, calls, largest = collect_data(server, 10, max_events=3)
    assert [e.data for e in got] == [b"%d" % i for i in range(10)]
    assert largest == 3 and calls >= 4
    with pytest.raises(ValueError):
        server.poll_many(0, 0)
    start = time.monotonic()
    assert server.poll_many(0.05) == []
    assert time.monotonic() - start >= 0.04
    client.send(b"single")
    ev = collect_data(server, 1)[0][0]
    assert isinstance(ev, ruphin.Event)
    assert ev == ruphin.Event(DATA, ("127.0.0.1", client.local_address[1]), b"single", 0)
    with pytest.raises(Exception):
        ev.data = b"changed"  # still a frozen dataclass


def test_poll_many_on_the_holepuncher_keeps_session_ids(hp):
    """Session ids are copied into the node for each event handed out:
    several in one list must each keep their own."""
    servers = [ruphin.Server(hp.local_address, b"id-%d" % i) for i in range(3)]
    ids = []
    end = time.monotonic() + 5
    try:
        while len(ids) < 3 and time.monotonic() < end:
            for s in servers:  # their Registers (and answers to cookies) arrive together
                while s.poll(0) is not None:
                    pass
            time.sleep(0.02)
            ids += [e.data for e in hp.poll_many(0)
                    if e.type == ruphin.EventType.SESSION_REGISTERED]
    finally:
        for s in servers:
            s.close()
    assert sorted(ids) == [b"id-0", b"id-1", b"id-2"]
