"""The principal from a verified access token; anonymous calls refused (health, public exempt)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from keel_runtime import context
from keel_runtime.metrics import Metrics
from keel_runtime.testing import TokenIssuer


def error_info(error: grpc.aio.AioRpcError) -> Any:
    status = rpc_status.from_call(error)
    info = error_details_pb2.ErrorInfo()
    assert any(d.Unpack(info) for d in status.details)
    return info


async def test_call_without_principal_is_unauthenticated_while_health_serves(
    start_probe: Any, kit: Any
) -> None:
    probe = await start_probe(metrics=Metrics("probe"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await probe.echo()(kit.valid_request(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(caught.value).reason == "PRINCIPAL_REQUIRED"
    assert probe.servicer.calls == []
    scrape = probe.running.metrics.render().decode()
    assert 'keel_principal_refused_total{peer="none",reason="PRINCIPAL_REQUIRED",' in scrape

    health = health_pb2_grpc.HealthStub(probe.channel)
    for service in ("", kit.SERVICE):
        response = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_tokens_that_do_not_verify_are_refused_before_the_servicer(
    start_probe: Any, kit: Any
) -> None:
    probe = await start_probe(metrics=Metrics("probe"))
    forger = TokenIssuer()
    cases = {
        "Bearer not-a-jwt": "TOKEN_INVALID",
        "Basic dXNlcjpwYXNz": "TOKEN_INVALID",
        f"Bearer {forger.token('org-1')}": "TOKEN_INVALID",  # a key identity never published
        f"Bearer {kit.ISSUER.token('org-1', exp=None)}": "TOKEN_INVALID",
        f"Bearer {kit.ISSUER.token('org-1', kind='service')}": "TOKEN_INVALID",
        f"Bearer {kit.ISSUER.token('org-1', ttl_seconds=-60)}": "TOKEN_EXPIRED",
    }
    for authorization, reason in cases.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await probe.echo()(
                kit.valid_request(), metadata=(("authorization", authorization),), timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(caught.value).reason == reason
        assert authorization[7:] not in caught.value.details()  # the credential is never echoed
    assert probe.servicer.calls == []
    scrape = probe.running.metrics.render().decode()
    assert 'keel_principal_refused_total{peer="none",reason="TOKEN_INVALID",' in scrape


async def test_principal_reaches_the_servicer(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    response = await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=5)
    assert (response.subject, response.org_id) == ("user-1", "org-1")


async def test_public_method_needs_no_principal(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    response = await probe.public()(kit.valid_request("open"), timeout=5)
    assert (response.note, response.subject) == ("open", "")


async def test_require_principal_in_a_public_method_is_unauthenticated(
    start_probe: Any, kit: Any
) -> None:
    async def needs_principal(request: Any, ctx: Any) -> Any:
        context.require_principal()
        return kit.EchoResponse()

    probe = await start_probe(
        kit.ProbeServicer(echo=needs_principal), public_methods=(f"{kit.SERVICE}/Echo",)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await probe.echo()(kit.valid_request(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(caught.value).reason == "PRINCIPAL_REQUIRED"
