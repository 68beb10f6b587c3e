"""A minimal HTTP/1.1 keep-alive GET client: the REST side measures Envoy, not a library."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    pass


class Connection:
    """One persistent connection sending the same GET again and again."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes):
        self._reader = reader
        self._writer = writer
        self._request = request

    async def get(self) -> bytes:
        """The response body; HttpError unless the status is 200."""
        self._writer.write(self._request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for line in header_lines
            if line
            for name, _, value in [line.partition(":")]
        }
        if "content-length" in headers:
            body = await self._reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            raise HttpError(f"response without length: {status_line}")
        if status_line.split()[1] != "200":
            raise HttpError(f"{status_line}: {body[:200]!r}")
        return body

    async def _chunked(self) -> bytes:
        parts = []
        while size := int((await self._reader.readline()).split(b";")[0], 16):
            parts.append((await self._reader.readexactly(size + 2))[:-2])
        await self._reader.readline()  # the blank line after the last chunk (no trailers)
        return b"".join(parts)


@asynccontextmanager
async def connect(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[Connection]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode()
    try:
        yield Connection(reader, writer, request)
    finally:
        writer.close()
