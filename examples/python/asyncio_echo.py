"""A holepuncher, a server and a client on loopback, all on one asyncio loop:
the client sends a few datagrams, the server echoes them. Exits 0 on success."""
import asyncio
import sys

import ruphin.aio


async def echo(server: ruphin.aio.Server) -> None:
    while True:
        data, peer = await server.recv()
        server.send(data, peer)


async def main() -> int:
    async with ruphin.aio.Holepuncher(("127.0.0.1", 0)) as hp:
        address = hp.node.local_address
        async with ruphin.aio.Server(address, b"asyncio") as server:
            await server.wait_registered()
            echoing = asyncio.ensure_future(echo(server))
            async with ruphin.aio.Client(address, b"asyncio") as client:
                print("connected to", await client.connect())
                for i in range(3):
                    client.send(b"ping %d" % i)
                    reply = await client.recv(timeout=5)
                    print("echo:", reply.decode())
                    if reply != b"ping %d" % i:
                        return 1
            echoing.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
