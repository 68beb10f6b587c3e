"""Mutual TLS: who may call, who may present a user's token, and who is a service."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keel_devstack.certs import MeshCertificates
from keel_runtime import context
from keel_runtime.metrics import Metrics
from keel_runtime.testing import TokenIssuer
from keel_runtime.tls import channel_credentials

from .test_auth import error_info

ACT_FOR_ORG_1 = ((context.ACTING_ORG_HEADER, "org-1"),)


async def _echo(probe: Any, kit: Any, certs: MeshCertificates, workload: str, md: Any) -> Any:
    creds = channel_credentials(certs[workload].tls)
    async with grpc.aio.secure_channel(probe.target, creds) as channel:
        echo = channel.unary_unary(
            f"/{kit.SERVICE}/Echo",
            request_serializer=kit.EchoRequest.SerializeToString,
            response_deserializer=kit.EchoResponse.FromString,
        )
        return await echo(kit.valid_request(), metadata=md, timeout=5)


async def _refused(probe: Any, kit: Any, certs: MeshCertificates, workload: str, md: Any) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _echo(probe, kit, certs, workload, md)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, caught.value
    return str(error_info(caught.value).reason)


@pytest.fixture
async def tls_probe(start_probe: Any, mesh_certs: MeshCertificates) -> Any:
    return await start_probe(tls=mesh_certs["ledger"].tls, metrics=Metrics("probe"))


async def test_plaintext_client_is_refused(tls_probe: Any, kit: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tls_probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert tls_probe.servicer.calls == []


async def test_certificate_of_another_ca_is_refused(
    tls_probe: Any, kit: Any, foreign_certs: MeshCertificates
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _echo(tls_probe, kit, foreign_certs, "gateway", kit.AUTH)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert tls_probe.servicer.calls == []


async def test_the_gateway_forwards_users_and_is_no_service_itself(
    tls_probe: Any, kit: Any, mesh_certs: MeshCertificates
) -> None:
    answer = await _echo(tls_probe, kit, mesh_certs, "gateway", kit.AUTH)
    assert (answer.subject, answer.org_id) == ("user-1", "org-1")
    # A token that says "service" is no service; an organization named by a user's call
    # changes nothing (the token's org stands); without a token the gateway is nobody.
    forged = kit.ISSUER.metadata("org-1", subject="billing", kind="service")
    assert await _refused(tls_probe, kit, mesh_certs, "gateway", forged) == "TOKEN_INVALID"
    answer = await _echo(
        tls_probe, kit, mesh_certs, "gateway", (*kit.AUTH, (context.ACTING_ORG_HEADER, "org-2"))
    )
    assert answer.org_id == "org-1"
    reason = await _refused(tls_probe, kit, mesh_certs, "gateway", ACT_FOR_ORG_1)
    assert reason == "PRINCIPAL_REQUIRED"
    assert tls_probe.servicer.calls == ["Echo", "Echo"]


async def test_a_peer_that_is_neither_gateway_nor_service_may_not_present_a_token(
    tls_probe: Any, kit: Any, mesh_certs: MeshCertificates
) -> None:
    reason = await _refused(tls_probe, kit, mesh_certs, "operator", kit.AUTH)
    assert reason == "TOKEN_FROM_UNTRUSTED_PEER"
    assert tls_probe.servicer.calls == []
    scrape = tls_probe.running.metrics.render().decode()
    assert (
        'keel_principal_refused_total{peer="operator",reason="TOKEN_FROM_UNTRUSTED_PEER",'
        'service="probe"} 1.0' in scrape
    )


async def test_the_operator_certificate_is_the_platform_operator(
    tls_probe: Any, kit: Any, mesh_certs: MeshCertificates
) -> None:
    # Without a token the operator's certificate acts as the operator, of no organization
    # unless it names one; a platform power asks exactly this of the caller
    # (keel_runtime.access.is_platform).
    answer = await _echo(tls_probe, kit, mesh_certs, "operator", ())
    assert (answer.subject, answer.org_id) == ("operator", "")
    answer = await _echo(tls_probe, kit, mesh_certs, "operator", ACT_FOR_ORG_1)
    assert (answer.subject, answer.org_id) == ("operator", "org-1")
    assert tls_probe.servicer.calls == ["Echo", "Echo"]


async def test_service_principal_comes_from_the_certificate(
    tls_probe: Any, kit: Any, mesh_certs: MeshCertificates
) -> None:
    # Without a token billing's certificate is the service principal "billing" ...
    answer = await _echo(tls_probe, kit, mesh_certs, "billing", ())
    assert (answer.subject, answer.org_id) == ("billing", "")
    # ... acting for an organization it names, as itself only ...
    answer = await _echo(tls_probe, kit, mesh_certs, "billing", ACT_FOR_ORG_1)
    assert (answer.subject, answer.org_id) == ("billing", "org-1")
    answer = await _echo(tls_probe, kit, mesh_certs, "items", ACT_FOR_ORG_1)
    assert answer.subject == "items"
    # ... and it forwards the token of the user it acts for, verified here again.
    answer = await _echo(tls_probe, kit, mesh_certs, "items", kit.AUTH)
    assert answer.subject == "user-1"
    forger = TokenIssuer().metadata("org-1")
    assert await _refused(tls_probe, kit, mesh_certs, "items", forger) == "TOKEN_INVALID"


async def test_without_tls_nobody_is_a_service(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await probe.echo()(kit.valid_request(), metadata=ACT_FOR_ORG_1, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(caught.value).reason == "PRINCIPAL_REQUIRED"
    answer = await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=5)
    assert answer.subject == "user-1"


async def test_health_only_listener_answers_probes_in_plaintext(
    start_probe: Any, kit: Any, mesh_certs: MeshCertificates
) -> None:
    probe = await start_probe(tls=mesh_certs["ledger"].tls, health_bind="127.0.0.1:0")
    assert probe.running.health_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{probe.running.health_port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        echo = channel.unary_unary(
            f"/{kit.SERVICE}/Echo",
            request_serializer=kit.EchoRequest.SerializeToString,
            response_deserializer=kit.EchoResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo(kit.valid_request(), metadata=kit.AUTH, timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
