"""The Python API itself: versions, errors, options, lifetime, event-loop hooks."""
import enum
import gc
import inspect
import os
import re
import selectors
import threading
import time

import pytest

import ruphin
from pyhelpers import FAST, pump, saw

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_version_matches_header_and_pyproject():
    header = open(os.path.join(ROOT, "core", "include", "ruphin.h")).read()
    pyproject = open(os.path.join(ROOT, "pyproject.toml")).read()
    assert re.search(r'RUPHIN_VERSION_STRING "([^"]+)"', header).group(1) == ruphin.__version__
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == ruphin.__version__


def test_errors_share_one_root_and_carry_code_and_message():
    with pytest.raises(ruphin.AddressError) as info:
        ruphin.Client("not an address at all:99999", b"x")
    assert isinstance(info.value, ruphin.Error) and isinstance(info.value, ValueError)
    assert info.value.code == ruphin.lib.RUPHIN_ERR_ADDRESS
    assert "address" in str(info.value)


def test_every_exception_is_a_ruphin_error():
    classes = [getattr(ruphin, n) for n in ruphin.__all__]
    exceptions = [c for c in classes if inspect.isclass(c) and issubclass(c, BaseException)]
    assert len(exceptions) > 10 and all(issubclass(c, ruphin.Error) for c in exceptions)


def public_callables(module):
    """(name, function) of module's public functions and of the methods,
    inherited ones included, of its public classes (dunders of the context
    managers too: they give `with ... as x` its type)."""
    wanted = ("__init__", "__enter__", "__exit__", "__aenter__", "__aexit__")
    names = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
    for name in names:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield name, obj
        if not inspect.isclass(obj) or issubclass(obj, (BaseException, enum.Enum)):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("ruphin"):
                continue
            for attr, member in vars(klass).items():
                member = member.fget if isinstance(member, property) else member
                if inspect.isfunction(member) and (not attr.startswith("_") or attr in wanted):
                    yield f"{name}.{attr}", member


def test_the_package_is_typed():
    """Type hints on the whole public API, and the py.typed marker that makes
    type checkers read them."""
    import ruphin.aio
    assert os.path.exists(os.path.join(os.path.dirname(ruphin.__file__), "py.typed"))
    missing = []
    for module in (ruphin, ruphin.aio):
        for name, function in public_callables(module):
            signature = inspect.signature(function)
            bare = [p for p in signature.parameters.values()
                    if p.annotation is inspect.Parameter.empty and p.name != "self"]
            if bare or signature.return_annotation is inspect.Signature.empty:
                missing.append(f"{module.__name__}.{name}")
    assert not missing, missing


def test_bad_options_are_refused():
    with pytest.raises(TypeError):
        ruphin.Holepuncher(("127.0.0.1", 0), no_such_option=1)
    with pytest.raises(ruphin.InvalidArgument):
        ruphin.Holepuncher(("127.0.0.1", 0), max_payload=70000)
    with pytest.raises(ruphin.InvalidArgument):  # a group gives no cookies: strict mode joins none
        ruphin.Holepuncher(("127.0.0.1", 0), workers=2)


def test_session_id_too_long():
    with pytest.raises(ruphin.InvalidArgument):
        ruphin.Client(("127.0.0.1", 1), b"x" * 21)


def test_address_in_use(hp):
    with pytest.raises(ruphin.AddressInUse):
        ruphin.Holepuncher(hp.local_address)


def test_a_forgotten_node_is_closed_by_the_garbage_collector():
    """__del__ closes it (a safety net): its port is free again."""
    address = ruphin.Holepuncher(("127.0.0.1", 0)).local_address  # the node is gone at once
    gc.collect()
    ruphin.Holepuncher(address).close()


def test_close_is_idempotent_and_closed_nodes_refuse_work(hp):
    server = ruphin.Server(hp.local_address, "s")
    server.close()
    server.close()
    assert server.closed
    with pytest.raises(ruphin.InvalidArgument):
        server.poll(0)
    with pytest.raises(ruphin.InvalidArgument):
        server.fileno()


def test_too_large_payload_raises(connected):
    _, _, client = connected
    with pytest.raises(ruphin.TooLarge):
        client.send(b"x" * 1025)
    client.send(b"x" * 1024)


def test_send_before_the_server_is_known_raises(hp):
    with ruphin.Client(hp.local_address, b"nobody") as client:
        with pytest.raises(ruphin.NotConnected):
            client.send(b"early")


def test_holepuncher_cannot_send(hp):
    with pytest.raises(ruphin.NotSupported):
        hp._send(b"x", ruphin.ffi.NULL)


def test_roles_states_and_addresses(connected):
    hp, server, client = connected
    assert (hp.role, server.role, client.role) == (ruphin.Role.HOLEPUNCHER, ruphin.Role.SERVER,
                                                   ruphin.Role.CLIENT)
    assert hp.state == ruphin.State.SERVING
    assert server.state == ruphin.State.REGISTERED
    assert client.state == ruphin.State.CONNECTED
    assert client.server_address == server.local_address or \
        client.server_address[1] == server.local_address[1]
    assert hp.stats()["sessions"] == 1 and server.stats()["peers"] == 1


def test_selectors_and_deadline(connected):
    """An application loop built on fileno() and timeout() alone."""
    hp, server, client = connected
    nodes = {hp.fileno(): hp, server.fileno(): server, client.fileno(): client}
    assert all(n.deadline is None or n.deadline > 0 for n in nodes.values())
    assert abs((client.deadline or 0) - time.monotonic()) < 60  # same clock as time.monotonic
    client.send(b"via selectors")
    sel = selectors.DefaultSelector()
    for fd in nodes:
        sel.register(fd, selectors.EVENT_READ)
    got = None
    end = time.monotonic() + 5
    while got is None and time.monotonic() < end:
        timeouts = [t for t in (n.timeout() for n in nodes.values()) if t is not None]
        for key, _ in sel.select(min(timeouts + [0.5])):
            node = nodes[key.fd]
            while (ev := node.poll(0)) is not None:
                if node is server and ev.type == ruphin.EventType.DATA:
                    got = ev.data
        for node in nodes.values():  # timers that fell due
            if node.timeout() == 0:
                node.poll(0)
    assert got == b"via selectors"


def test_wake_interrupts_a_blocking_poll_from_another_thread(hp):
    threading.Timer(0.1, hp.wake).start()
    start = time.monotonic()
    ev = hp.poll(timeout=None)
    assert ev.type == ruphin.EventType.WAKE
    assert time.monotonic() - start >= 0.09


def test_poll_returns_none_after_its_timeout(hp):
    start = time.monotonic()
    assert hp.poll(0.05) is None
    assert time.monotonic() - start >= 0.048  # the core counts whole milliseconds


def test_failed_event_becomes_an_exception(hp):
    with ruphin.Client(hp.local_address, b"missing", **FAST) as client:
        events = pump(hp, client, until=saw(client, ruphin.EventType.FAILED))
        failed = [e for n, e in events if n is client and e.type == ruphin.EventType.FAILED][0]
        with pytest.raises(ruphin.SessionNotFound):
            failed.raise_for_failure()
        with pytest.raises(ruphin.Failed):
            client.poll(0)
