"""The embedded NATS server in TLS mode (`make run`, the mesh), attacked with real clients.

Each client below reaches the port a service uses and is refused unless it speaks TLS from
the first byte, presents a certificate of the stack's CA and logs in with a user's password.
A client also refuses a server the stack's CA did not sign, before sending its password.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import nats
import pytest
from nats.errors import Error as NatsError

from keel_devstack.certs import MeshCertificates
from keel_devstack.nats import Nats, start_nats
from keel_runtime.events import connect_nats_once
from keel_runtime.events.accounts import OPERATOR
from keel_runtime.tls import TlsSettings


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, mesh_certs: MeshCertificates
) -> Iterator[Nats]:
    started = start_nats(tmp_path_factory.mktemp("nats-tls"), tls=mesh_certs["nats"])
    yield started
    started.stop()


def test_the_server_advertises_tls_urls_only(server: Nats) -> None:
    assert server.url.startswith("tls://127.0.0.1:")
    assert server.url_for("items").startswith("tls://items:")


async def test_a_service_connects_with_its_certificate_and_password(
    server: Nats, mesh_certs: MeshCertificates
) -> None:
    nc, _ = await connect_nats_once(server.url_for("items"), tls=mesh_certs["items"].tls)
    try:
        await nc.publish("items.item.created", b"{}")  # its own subject: allowed
        await nc.flush(timeout=5)
        assert nc.is_connected
    finally:
        await nc.close()


async def _speak_plaintext(port: int, password: str) -> bytes:
    """What a plaintext client gets back for a CONNECT with a genuine password and a PING."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connect = {"user": OPERATOR, "pass": password, "verbose": False, "pedantic": False}
    writer.write(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
    await writer.drain()
    try:
        async with asyncio.timeout(10):
            return await reader.read()  # until the server closes the connection
    finally:
        writer.close()


async def test_a_plaintext_client_is_refused_even_with_the_operators_password(
    server: Nats,
) -> None:
    answer = await _speak_plaintext(server.port, server.passwords[OPERATOR])
    # No greeting, no PONG: the server closed the connection without a word of NATS.
    assert b"INFO" not in answer and b"PONG" not in answer, answer


async def test_a_certificate_of_another_ca_is_refused(
    server: Nats, mesh_certs: MeshCertificates, foreign_certs: MeshCertificates
) -> None:
    # The client trusts the server (right CA) but presents a certificate minted elsewhere.
    forged = TlsSettings(
        cert_file=foreign_certs["operator"].cert_file,
        key_file=foreign_certs["operator"].key_file,
        ca_file=mesh_certs.ca_file,
    )
    with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
        nc, _ = await connect_nats_once(server.url_for(OPERATOR), tls=forged, timeout_s=5)
        await nc.close()


async def test_a_client_without_a_certificate_is_refused(
    server: Nats, mesh_certs: MeshCertificates
) -> None:
    trusting = ssl.create_default_context(cafile=str(mesh_certs.ca_file))
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        nc = await nats.connect(
            server.url_for(OPERATOR),
            tls=trusting,
            tls_handshake_first=True,
            allow_reconnect=False,
            connect_timeout=5,
        )
        await nc.close()


async def test_a_genuine_certificate_still_needs_the_users_password(
    server: Nats, mesh_certs: MeshCertificates
) -> None:
    wrong = f"tls://billing:not-the-password@127.0.0.1:{server.port}"
    with pytest.raises(NatsError, match=r"[Aa]uthorization"):
        await connect_nats_once(wrong, tls=mesh_certs["billing"].tls)


async def test_a_client_refuses_a_server_of_another_ca_before_sending_its_password(
    tmp_path_factory: pytest.TempPathFactory,
    mesh_certs: MeshCertificates,
    foreign_certs: MeshCertificates,
) -> None:
    impostor = start_nats(tmp_path_factory.mktemp("impostor"), tls=foreign_certs["nats"])
    try:
        # Whatever answers on the port, the password is the one of the genuine server's user.
        url = impostor.url_for("items")
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect_nats_once(url, tls=mesh_certs["items"].tls)
        assert urlsplit(url).password  # the URL did carry one
    finally:
        impostor.stop()
