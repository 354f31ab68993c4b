"""`fetch`'s HTTP/1.1 client (`http1`) against real local servers: connection reuse, response framing,
redirects, timeouts, refused requests and TLS verification."""

import asyncio
import datetime
import gzip
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.engine.functions.calls import CallOutcome
from app.engine.functions.fetch import FetchRequest, FetchSettings, HttpFetcher
from tests.functions.servers import LocalHttpServer, Reply

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
    return head, await reader.readexactly(length)


def answering(response: bytes, *, then_close: bool = False) -> Handler:
    """A server answering every request of a connection with `response` (closing after one if told)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await read_request(reader)
                writer.write(response)
                await writer.drain()
                if then_close:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    return serve


async def fetch(url: str, method: str = "POST", body: str | None = "{}", **settings: object) -> CallOutcome:
    fetcher = HttpFetcher(FetchSettings(allow_private=True, **settings))  # type: ignore[arg-type]
    return await fetcher.fetch(FetchRequest(url, method, {"Content-Type": "application/json"}, body))


async def test_requests_with_and_without_bodies_share_a_kept_alive_connection() -> None:
    received: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            head, body = await read_request(reader)
            received.append(head.split(b"\r\n")[0] + b" " + body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    async with raw_server(serve) as port:
        url = f"http://127.0.0.1:{port}/hook?a=b c"
        for method, body in (("POST", '{"key": 1}'), ("GET", None), ("POST", '{"key": 2}')):
            outcome = await fetch(url, method, body)
            assert outcome.status == 200 and outcome.value["body"] == "ok"
    assert received == [
        b'POST /hook?a=b%20c HTTP/1.1 {"key": 1}',
        b"GET /hook?a=b%20c HTTP/1.1 ",
        b'POST /hook?a=b%20c HTTP/1.1 {"key": 2}',
    ]
    assert connections == 1


async def test_chunked_close_delimited_and_gzip_bodies_are_read_whole() -> None:
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    until_close = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9"
    packed = gzip.compress(b'{"zipped": true}')
    zipped = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed)
    for response, then_close, expected in (
        (chunked, False, {"a": 1}),
        (until_close, True, "café"),
        (zipped, False, {"zipped": True}),
    ):
        async with raw_server(answering(response, then_close=then_close)) as port:
            outcome = await fetch(f"http://127.0.0.1:{port}/")
        assert outcome.status == 200 and outcome.value["body"] == expected


async def test_a_head_request_reads_no_body_and_keeps_its_connection() -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            head, _ = await read_request(reader)
            body = b"" if head.startswith(b"HEAD") else b"hello"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Seen: 1\r\nX-Seen: 2\r\n\r\n" + body)

    async with raw_server(serve) as port:
        head = await fetch(f"http://127.0.0.1:{port}/", "HEAD", None, timeout_s=2)
        get = await fetch(f"http://127.0.0.1:{port}/", "GET", None, timeout_s=2)
    assert head.status == 200 and head.value["body"] == "" and head.value["headers"]["x-seen"] == "1, 2"
    assert get.value["body"] == "hello"
    assert connections == 1


async def test_redirects_are_followed_and_credentials_stay_with_their_host(http_server: LocalHttpServer) -> None:
    other_host = http_server.url("/final").replace("127.0.0.1", "localhost")
    http_server.script("/start", Reply(302, "", headers={"Location": "/same"}))
    http_server.script("/same", Reply(307, "", headers={"Location": other_host}))
    http_server.script("/final", Reply(200, {"done": True}))
    fetcher = HttpFetcher(FetchSettings(allow_private=True))
    headers = {"Authorization": "Bearer secret", "X-Keep": "yes"}
    outcome = await fetcher.fetch(FetchRequest(http_server.url("/start"), "POST", headers, '{"a": 1}'))

    assert outcome.status == 200 and outcome.value["body"] == {"done": True}
    start, same, final = http_server.requests
    assert (start.method, start.body, start.headers["authorization"]) == ("POST", b'{"a": 1}', "Bearer secret")
    # A 302 turns a POST into a GET without its body; 307 keeps the method; another host gets no credentials.
    assert (same.method, same.body, same.headers["authorization"]) == ("GET", b"", "Bearer secret")
    assert (final.path, final.method, final.headers["x-keep"]) == ("/final", "GET", "yes")
    assert "authorization" not in final.headers


async def test_endless_redirects_fail_without_retrying(http_server: LocalHttpServer) -> None:
    http_server.script("/loop", Reply(301, "", headers={"Location": "/loop"}))
    outcome = await fetch(http_server.url("/loop"), "GET", None)
    assert outcome.error == "Exceeded maximum allowed redirects" and not outcome.retriable
    assert outcome.value["body"].startswith("TooManyRedirects: ")
    assert len(http_server.requests) == 6  # the first request and five redirects


async def test_a_slow_answer_times_out_and_is_retriable(http_server: LocalHttpServer) -> None:
    release = threading.Event()
    http_server.script("/slow", Reply(hold=release))
    try:
        outcome = await fetch(http_server.url("/slow"), timeout_s=0.2)
    finally:
        release.set()
    assert outcome.value["body"] == "TimeoutError: The request timed out after 0.2s" and outcome.retriable


async def test_a_truncated_response_closes_its_connection() -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
        await reader.read()  # until the client closes
        writer.close()

    async with raw_server(serve) as port:
        for _ in range(2):
            outcome = await fetch(f"http://127.0.0.1:{port}/", max_response_bytes=100)
            assert outcome.value["body"] == "x" * 100
            warning = f"Response body of http://127.0.0.1:{port}/ truncated to its first 100 bytes"
            assert outcome.logs == [("warn", warning)]
    assert connections == 2


async def test_a_header_that_would_split_the_request_is_refused(http_server: LocalHttpServer) -> None:
    fetcher = HttpFetcher(FetchSettings(allow_private=True))
    request = FetchRequest(http_server.url("/hook"), "POST", {"X-Evil": "a\r\nX-Injected: 1"}, "{}")
    outcome = await fetcher.fetch(request)
    assert outcome.error == "Invalid header 'X-Evil'" and not outcome.retriable
    assert http_server.requests == []


async def test_https_certificates_are_verified(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async with raw_server(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), tls) as port:
        outcome = await fetch(f"https://127.0.0.1:{port}/")
    assert outcome.status is None and outcome.retriable
    assert outcome.value["body"].startswith("ConnectError: ") and "CERTIFICATE_VERIFY_FAILED" in outcome.value["body"]
