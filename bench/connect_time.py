"""Time to connect on loopback: from a client's creation to its first echoed
datagram, against the round-trip floor measured in the same run (one round
trip to the holepuncher plus one between the peers, each the median of
plain-socket ping-pongs). Prints one JSON line.

    python connect_time.py TRIALS
"""
import json
import multiprocessing
import socket
import statistics
import sys
import time


def echo_server(hp_address, ready):
    import ruphin
    with ruphin.Server(hp_address, b"ttc", retransmit_ms=20) as server:
        server.wait_registered()
        ready.set()
        while True:
            data, peer = server.recv()
            server.send(data, peer)


def holepuncher(port_queue):
    import ruphin
    with ruphin.Holepuncher(("127.0.0.1", 0), rate_limit=0) as hp:  # the floor pings it
        port_queue.put(hp.local_address)
        while True:
            hp.poll(None)


def rtt_floor(hp_address, samples=200):
    """Median HelloReq -> HelloResp round trip to the holepuncher."""
    times = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(samples):
            start = time.perf_counter()
            s.sendto(b"\x00\x04\x00\x08", hp_address)
            s.recv(16)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(trials):
    import ruphin
    ports = multiprocessing.Queue()
    hp = multiprocessing.Process(target=holepuncher, args=(ports,), daemon=True)
    hp.start()
    hp_address = ports.get(timeout=10)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=echo_server, args=(hp_address, ready), daemon=True)
    server.start()
    ready.wait(10)
    durations = []
    for _ in range(int(trials)):
        start = time.perf_counter()
        with ruphin.Client(hp_address, b"ttc", retransmit_ms=20) as client:
            client.connect(timeout=5)
            client.send(b"first")
            client.recv(timeout=5)
        durations.append(time.perf_counter() - start)
    floor = 2 * rtt_floor(hp_address)  # holepuncher round trip + peer round trip (both loopback)
    median = statistics.median(durations)
    print(json.dumps({"median_ms": round(median * 1000, 3), "floor_ms": round(floor * 1000, 3),
                      "ratio": round(median / floor, 2), "trials": int(trials)}))
    hp.kill()
    server.kill()


if __name__ == "__main__":
    main(*sys.argv[1:])
