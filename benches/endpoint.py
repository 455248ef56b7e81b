"""Endpoints for health probes in benches: an HTTP server that answers 200 "ok" to any
request on ADDR:HTTP_PORT, and COUNT TCP listeners on ADDR:TCP_PORT… that accept and
close. Loopback only.

usage: endpoint.py ADDR HTTP_PORT TCP_PORT COUNT"""
import asyncio
import sys

addr, http_port, tcp_port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


async def http(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(REPLY)
        await writer.drain()
    except Exception:
        pass
    writer.close()


async def accept(reader, writer):
    writer.close()


async def main():
    servers = [await asyncio.start_server(http, addr, http_port, backlog=1024)]
    for port in range(tcp_port, tcp_port + count):
        servers.append(await asyncio.start_server(accept, addr, port, backlog=1024))
    await asyncio.Event().wait()


asyncio.run(main())
