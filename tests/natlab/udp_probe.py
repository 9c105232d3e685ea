"""A scriptable UDP endpoint for the lab's self-tests, run on a lab host:

    python3 udp_probe.py PORT STEP...

binds 0.0.0.0:PORT (0: any), prints "bound PORT", then does each STEP in turn:

    send:HOST:PORT:TEXT   send TEXT to HOST:PORT
    burst:HOST:PORT:N     send N numbered datagrams, a little apart
    sleep:SECONDS         wait
    ttl:N                 send what follows with IP TTL N
    recv:SECONDS          print "TEXT SRC_IP SRC_PORT" for each datagram that arrives
    await:SECONDS         the same, but only until the first one
    echo:SECONDS          the same, and send each one back to where it came from
    rtt:HOST:PORT:N       N times: send, wait for the echo, print "rtt MS"
    mark:NAME             print "mark NAME SECONDS" (the monotonic clock, which
                          every namespace shares)

and at the end prints "received N" (all datagrams received by recv/echo).
"""
import socket
import sys
import time

received = 0


def receive(sock, seconds, echo, one=False):
    global received
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, src = sock.recvfrom(2048)
        except socket.timeout:
            return
        received += 1
        print(data.decode(), src[0], src[1], flush=True)
        if echo:
            sock.sendto(data, src)
        if one:
            return


def rtt(sock, host, port, n):
    for i in range(n):
        start = time.monotonic()
        sock.sendto(f"ping{i}".encode(), (host, port))
        sock.settimeout(5)
        while sock.recv(2048) != f"ping{i}".encode():
            pass
        print(f"rtt {1000 * (time.monotonic() - start):.3f}", flush=True)


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", int(sys.argv[1])))
    print("bound", sock.getsockname()[1], flush=True)
    for step in sys.argv[2:]:
        verb, _, arg = step.partition(":")
        if verb == "send":
            host, port, text = arg.split(":", 2)
            sock.sendto(text.encode(), (host, int(port)))
        elif verb == "burst":
            host, port, n = arg.split(":")
            for i in range(int(n)):
                sock.sendto(f"n{i}".encode(), (host, int(port)))
                time.sleep(0.0005)
        elif verb == "ttl":
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(arg))
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb in ("recv", "echo", "await"):
            receive(sock, float(arg), verb == "echo", verb == "await")
        elif verb == "mark":
            print("mark", arg, time.monotonic(), flush=True)
        elif verb == "rtt":
            host, port, n = arg.split(":")
            rtt(sock, host, int(port), int(n))
        else:
            sys.exit(f"udp_probe: unknown step {step!r}")
    print("received", received, flush=True)


if __name__ == "__main__":
    main()
