"""One role of the interop matrix, in Python.
  role.py hp LISTEN | server HP SESSION | client HP SESSION COUNT
Prints READY when serving (hp, server); the client prints RECEIVED n."""
import sys
import time

import ruphin

FAST = dict(retransmit_ms=20, punch_interval_ms=20)


def main(role, *args):
    if role == "hp":
        node = ruphin.Holepuncher(args[0], **FAST)
        print("READY", flush=True)
        while True:
            node.poll(None)
    if role == "server":
        node = ruphin.Server(args[0], args[1], **FAST)
        node.wait_registered()
        print("READY", flush=True)
        while True:
            data, peer = node.recv()
            node.send(data, peer)
    client = ruphin.Client(args[0], args[1], **FAST)
    client.connect(timeout=10)
    count, received = int(args[2]), 0
    for i in range(count):
        client.send(b"py %d" % i)
        try:
            if client.recv(timeout=2) == b"py %d" % i:
                received += 1
        except ruphin.Timeout:
            pass
    print("RECEIVED", received, flush=True)
    return 0 if received > 0 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
