"""A Keel client of a tls:// NATS URL never hands its password to whoever answers the port.

NATS greets in plaintext and a client upgrades to TLS only if the greeting asks for it, so a
process that takes the port first (or sits in the path) could greet without asking and read
the password from the client's CONNECT. Keel's clients do the TLS handshake before anything
else (the servers run with ``handshake_first``), so they verify the server first.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.errors import Error as NatsError

from keel_devstack.certs import MeshCertificates
from keel_runtime.events import connect_nats_once

GREETING = {"server_id": "impostor", "version": "2.10.0", "max_payload": 1048576}


async def test_a_plaintext_impostor_never_receives_the_password(
    mesh_certs: MeshCertificates,
) -> None:
    received = bytearray()
    closed = asyncio.Event()

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A NATS greeting that does not ask for TLS, then the client's first words: a client
        # talked into plaintext sends CONNECT, with its password, at once.
        writer.write(f"INFO {json.dumps(GREETING)}\r\n".encode())
        await writer.drain()
        try:
            received.extend(await reader.read(4096))
        finally:
            writer.close()
            closed.set()

    server = await asyncio.start_server(impostor, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        url = f"tls://operator:the-operators-password@127.0.0.1:{port}"
        with pytest.raises((NatsError, OSError)):
            nc, _ = await connect_nats_once(url, tls=mesh_certs["operator"].tls, timeout_s=5)
            await nc.close()
        async with asyncio.timeout(10):
            await closed.wait()
    finally:
        server.close()
        await server.wait_closed()
    assert b"the-operators-password" not in received
    assert b"CONNECT" not in received
    assert received[:1] == b"\x16"  # a TLS handshake record: the client spoke TLS first
