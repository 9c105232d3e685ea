"""Data path through the Python package against Python's own socket module:
a sender process (CPU 1) sends SIZE-byte datagrams as fast as it can for
SECONDS, a receiver process (CPU 0) counts them from the first one. Prints
one JSON line.

ruphin: the way a program that moves many datagrams uses the package,
send_many (64 at a time) and poll_many; ruphin1: one send() and one poll()
per datagram.

    python py_datapath.py socket|ruphin|ruphin1 SIZE SECONDS
"""
import json
import multiprocessing
import os
import socket
import sys
import time

HP_POLL_S = 0.05  # the holepuncher only answers registration refreshes here


def pin(cpu):
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def socket_receiver(port_queue, result_queue, seconds):
    pin(0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.1)
        port_queue.put(s.getsockname())
        got, end = 0, None
        recv = s.recv
        while end is None or time.monotonic() < end:
            try:
                recv(2048)
            except socket.timeout:
                continue
            if end is None:
                end = time.monotonic() + seconds
            got += 1
    result_queue.put(got)


def socket_sender(address, size, seconds):
    payload = b"x" * size
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        sendto = s.sendto
        end = time.monotonic() + seconds + 0.2
        while time.monotonic() < end:
            for _ in range(64):
                sendto(payload, address)


def ruphin_receiver(port_queue, result_queue, seconds, batched=True):
    import ruphin
    pin(0)
    opts = dict(retransmit_ms=20, max_payload=2048, socket_buffer=8 << 20)
    with ruphin.Holepuncher(("127.0.0.1", 0), **opts) as hp, \
            ruphin.Server(hp.local_address, b"bench", **opts) as server:
        while server.state != ruphin.State.REGISTERED:
            hp.poll(0)
            server.poll(0.001)
        port_queue.put(hp.local_address)
        got, end, hp_next = 0, None, 0.0
        poll, poll_many, data = server.poll, server.poll_many, ruphin.EventType.DATA
        while end is None or time.monotonic() < end:
            if end is None or time.monotonic() >= hp_next:  # the join, then now and then
                while hp.poll(0) is not None:
                    pass
                hp_next = time.monotonic() + HP_POLL_S
            if batched:
                events = poll_many(0.001)
                while events:
                    for ev in events:
                        if ev.type == data:
                            if end is None:
                                end = time.monotonic() + seconds
                            got += 1
                    events = poll_many(0)
                continue
            ev = poll(0.001)
            while ev is not None:
                if ev.type == data:
                    if end is None:
                        end = time.monotonic() + seconds
                    got += 1
                ev = poll(0)
    result_queue.put(got)


def ruphin1_receiver(port_queue, result_queue, seconds):
    ruphin_receiver(port_queue, result_queue, seconds, batched=False)


def ruphin_sender(hp_address, size, seconds, batched=True):
    import ruphin
    payload = b"x" * size
    batch = [payload] * 64
    with ruphin.Client(hp_address, b"bench", retransmit_ms=20, max_payload=2048) as client:
        client.connect(timeout=10)
        send, send_many = client.send, client.send_many
        end = time.monotonic() + seconds + 0.2
        while time.monotonic() < end:
            if batched:
                try:
                    send_many(batch)
                except ruphin.WouldBlock:  # the socket buffer is full: as socket's sendto would block
                    pass
            else:
                for _ in range(64):
                    send(payload)
            client.poll(0)


def ruphin1_sender(hp_address, size, seconds):
    ruphin_sender(hp_address, size, seconds, batched=False)


def main(mode, size, seconds):
    size, seconds = int(size), float(seconds)
    receiver, sender = {"socket": (socket_receiver, socket_sender),
                        "ruphin": (ruphin_receiver, ruphin_sender),
                        "ruphin1": (ruphin1_receiver, ruphin1_sender)}[mode]
    ports, results = multiprocessing.Queue(), multiprocessing.Queue()
    rx = multiprocessing.Process(target=receiver, args=(ports, results, seconds))
    rx.start()
    pin(1)
    sender(ports.get(timeout=10), size, seconds)
    got = results.get(timeout=30)
    rx.join()
    print(json.dumps({"mode": mode, "size": size, "received": got, "rate": round(got / seconds)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
