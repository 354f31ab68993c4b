"""Pieces the HTTP benches share: uvicorn servers in subprocesses and a cheap keep-alive load generator."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    if target.endswith("create_app"):
        command.append("--factory")
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})


async def wait_ready(port: int, path: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = await Connection.open(port)
            status, _ = await connection.request("GET", path, headers)
            connection.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer 200 on {path}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux), to report CPU per request."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Connection:
    """A keep-alive HTTP/1.1 connection that reads Content-Length bodies; just enough for this bench."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def load(
    port: int, requests: list[tuple[str, str, dict[str, str], bytes]], seconds: float, connections: int
) -> float:
    """Requests per second over `seconds`, each connection cycling through `requests`."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        connection = await Connection.open(port)
        index = offset
        try:
            while time.perf_counter() < stop_at:
                method, path, headers, body = requests[index % len(requests)]
                status, payload = await connection.request(method, path, headers, body)
                if status != 200:
                    raise RuntimeError(f"{method} {path} answered {status}: {payload[:300]!r}")
                done += 1
                index += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    return done / (time.perf_counter() - started)
