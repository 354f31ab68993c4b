"""A request's head goes out with its body in one send (`http_pool._Stream`), over real connections too."""

import asyncio
from typing import Any

import httpcore

from app.engine.functions.fetch import FetchRequest, FetchSettings, HttpFetcher
from app.engine.functions.http_pool import _Stream


class _Recording(httpcore.AsyncNetworkStream):
    """httpcore's network stream interface, recording what would reach the socket."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return b"reply"

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if buffer:
            self.sent.append(buffer)

    async def aclose(self) -> None:
        pass

    def get_extra_info(self, info: str) -> Any:
        return None


async def test_the_head_is_sent_with_the_body_and_a_bodiless_head_with_its_end() -> None:
    inner = _Recording()
    stream = _Stream(inner)
    await stream.write(b"POST / HTTP/1.1\r\n\r\n")
    assert inner.sent == []
    await stream.write(b"body")
    await stream.write(b"")  # h11's end of a Content-Length message
    assert await stream.read(100) == b"reply"
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")
    await stream.write(b"")
    await stream.write(b"PUT / HTTP/1.1\r\n\r\n")
    await stream.read(100)  # a read never leaves a head behind
    assert inner.sent == [b"POST / HTTP/1.1\r\n\r\nbody", b"GET / HTTP/1.1\r\n\r\n", b"PUT / HTTP/1.1\r\n\r\n"]


async def test_requests_with_and_without_bodies_share_a_kept_alive_connection() -> None:
    received: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")), 0)
            body = await reader.readexactly(length)
            received.append(head.split(b"\r\n")[0] + b" " + body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        fetcher = HttpFetcher(FetchSettings(allow_private=True))
        url = f"http://127.0.0.1:{port}/hook"
        for method, body in (("POST", '{"key": 1}'), ("GET", None), ("POST", '{"key": 2}')):
            outcome = await fetcher.fetch(FetchRequest(url, method, {}, body))
            assert outcome.status == 200 and outcome.value["body"] == "ok"
    finally:
        server.close()
    assert received == [b'POST /hook HTTP/1.1 {"key": 1}', b"GET /hook HTTP/1.1 ", b'POST /hook HTTP/1.1 {"key": 2}']
    assert connections == 1
