"""The mesh's NATS, tried as a process on the same host would: it takes mutual TLS clients of
the mesh's CA only, whatever password they hold; a Keel workload's certificate gets in."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from keel_devstack.certs import issue
from keel_devstack.stack import Endpoints
from keel_runtime.events import connect_nats_once
from keel_runtime.tls import TlsSettings

pytestmark = pytest.mark.e2e


def _address(mesh: Endpoints) -> tuple[str, int]:
    parts = urlsplit(mesh.nats_operator_url)
    assert parts.scheme == "tls" and parts.hostname and parts.port, mesh.nats_url
    return parts.hostname, parts.port


async def test_a_plaintext_client_is_refused_even_with_the_operators_password(
    mesh: Endpoints,
) -> None:
    host, port = _address(mesh)
    reader, writer = await asyncio.open_connection(host, port)
    connect = {"user": "operator", "pass": urlsplit(mesh.nats_operator_url).password}
    writer.write(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
    await writer.drain()
    try:
        async with asyncio.timeout(10):
            answer = await reader.read()  # until the server closes the connection
    finally:
        writer.close()
    assert b"INFO" not in answer and b"PONG" not in answer, answer


async def test_a_certificate_of_another_ca_is_refused(mesh: Endpoints, tmp_path: Path) -> None:
    foreign = issue(tmp_path / "tls", ca_name="Not Keel")
    trusted = mesh.operator_tls()
    assert trusted is not None
    forged = TlsSettings(
        foreign["operator"].cert_file, foreign["operator"].key_file, trusted.ca_file
    )
    with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
        nc, _ = await connect_nats_once(mesh.nats_operator_url, tls=forged)
        await nc.close()


async def test_a_service_certificate_and_the_operator_certificate_get_in(mesh: Endpoints) -> None:
    operator = mesh.operator_tls()
    assert operator is not None
    directory = Path(mesh.tls["dir"])
    items = TlsSettings(directory / "items.pem", directory / "items-key.pem", operator.ca_file)
    for certificate in (items, operator):
        nc, js = await connect_nats_once(mesh.nats_operator_url, tls=certificate)
        try:
            assert (await js.stream_info("ITEMS")).config.name == "ITEMS"
        finally:
            await nc.close()
