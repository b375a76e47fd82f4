"""TCP proxy publishing Ironic's API on the lab host for remote fleets.

Usage: python3 tcpProxy.py CONFIG.json
CONFIG: {"listen": {"host": H, "port": P}, "backends": [{"host": H, "port": P}, ...],
         "connectTimeoutSeconds": S}

Each client connection goes to the next backend in turn (round-robin); a
backend that refuses or does not answer within the timeout is skipped for the
next one. Bytes pass through untouched: TLS ends at the conductor, whose
certificate also names the listen address. Standard library only (the lab runs
it with the ironic image's python3.12; the tests with Debian's python3).
"""
import asyncio
import json
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass


class Proxy:
    def __init__(self, config):
        self.backends = [(b["host"], int(b["port"])) for b in config["backends"]]
        if not self.backends:
            raise ValueError("no backends")
        self.timeout = float(config.get("connectTimeoutSeconds", 5))
        self.next = 0

    async def connect(self):
        start = self.next
        self.next = (self.next + 1) % len(self.backends)
        for k in range(len(self.backends)):
            host, port = self.backends[(start + k) % len(self.backends)]
            try:
                return await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout)
            except (OSError, asyncio.TimeoutError) as err:
                print(f"backend {host}:{port} unavailable: {err!r}", file=sys.stderr, flush=True)
        return None

    async def handle(self, client_reader, client_writer):
        backend = await self.connect()
        if backend is None:
            client_writer.close()
            return
        backend_reader, backend_writer = backend
        await asyncio.gather(pipe(client_reader, backend_writer), pipe(backend_reader, client_writer))
        for w in (backend_writer, client_writer):
            w.close()


async def main(path):
    with open(path) as f:
        config = json.load(f)
    proxy = Proxy(config)
    listen = config["listen"]
    server = await asyncio.start_server(proxy.handle, listen["host"], int(listen["port"]), reuse_address=True)
    print(f"listening on {listen['host']}:{listen['port']} for {len(proxy.backends)} backends", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
