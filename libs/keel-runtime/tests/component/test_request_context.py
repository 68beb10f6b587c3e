"""Request id, trace context, access log and context forwarding over a real server."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from keel_runtime import clients, context

HEX32 = re.compile(r"[0-9a-f]{32}")


async def test_given_request_id_is_used_and_echoed(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    call = probe.echo()(
        kit.valid_request(), metadata=(("x-request-id", "req-abc.123"), *kit.AUTH), timeout=5
    )
    response = await call
    initial = dict(await call.initial_metadata())
    assert initial["x-request-id"] == "req-abc.123"
    assert response.request_id == "req-abc.123"


async def test_request_id_is_generated_when_absent_or_unsafe(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    for metadata in (kit.AUTH, (("x-request-id", "bad id with spaces"), *kit.AUTH)):
        call = probe.echo()(kit.valid_request(), metadata=metadata, timeout=5)
        response = await call
        echoed = dict(await call.initial_metadata())["x-request-id"]
        assert HEX32.fullmatch(echoed)
        assert response.request_id == echoed


async def test_traceparent_continues_the_callers_trace(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await probe.echo()(
        kit.valid_request(), metadata=(("traceparent", incoming), *kit.AUTH), timeout=5
    )
    version, trace_id, span_id, flags = response.traceparent.split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert span_id != "00f067aa0ba902b7" and len(span_id) == 16


async def test_traceparent_is_made_when_absent(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    response = await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=5)
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", response.traceparent)


async def test_access_log_line_per_rpc_without_metadata_values(
    start_probe: Any, kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    probe = await start_probe()
    caplog.set_level(logging.INFO, logger="keel.access")
    await probe.echo()(
        kit.valid_request(),
        metadata=(("x-request-id", "log-1"), *kit.AUTH),
        timeout=5,
    )
    lines = [
        r
        for r in caplog.records
        if r.name == "keel.access" and r.__dict__.get("request_id") == "log-1"
    ]
    assert len(lines) == 1
    line = lines[0].__dict__
    assert line["method"] == f"/{kit.SERVICE}/Echo"
    assert line["code"] == "OK"
    assert line["duration_ms"] >= 0
    assert (line["principal_sub"], line["principal_org"]) == ("user-1", "org-1")
    assert "127.0.0.1" in line["peer"]
    token = kit.AUTH[0][1].removeprefix("Bearer ")
    assert token not in repr(line) and token.split(".")[2] not in repr(line)


async def test_access_log_records_the_final_error_code(
    start_probe: Any, kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    probe = await start_probe()
    caplog.set_level(logging.INFO, logger="keel.access")
    with pytest.raises(Exception):  # noqa: B017 - the code is asserted from the log line
        await probe.echo()(kit.valid_request(), metadata=(("x-request-id", "log-2"),), timeout=5)
    [line] = [
        r.__dict__
        for r in caplog.records
        if r.name == "keel.access" and r.__dict__.get("request_id") == "log-2"
    ]
    assert line["code"] == "UNAUTHENTICATED"


async def test_client_channel_forwards_request_context(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    channel = clients.insecure_channel(probe.target)
    try:
        echo = channel.unary_unary(
            f"/{kit.SERVICE}/Echo",
            request_serializer=kit.EchoRequest.SerializeToString,
            response_deserializer=kit.EchoResponse.FromString,
        )
        with context.bound(request_id="fwd-1", principal=kit.PRINCIPAL):
            sent_traceparent = context.current_traceparent()
            assert sent_traceparent is not None
            response = await echo(kit.valid_request(), timeout=5)
    finally:
        await channel.close()
    assert response.request_id == "fwd-1"
    assert (response.subject, response.org_id) == ("user-1", "org-1")
    # Same trace, the callee's own span.
    assert response.traceparent.split("-")[1] == sent_traceparent.split("-")[1]
    assert response.traceparent != sent_traceparent


async def test_explicit_metadata_wins_over_forwarded_context(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    channel = clients.insecure_channel(probe.target)
    try:
        echo = channel.unary_unary(
            f"/{kit.SERVICE}/Echo",
            request_serializer=kit.EchoRequest.SerializeToString,
            response_deserializer=kit.EchoResponse.FromString,
        )
        with context.bound(request_id="ambient", principal=kit.PRINCIPAL):
            response = await echo(
                kit.valid_request(), metadata=(("x-request-id", "explicit"),), timeout=5
            )
    finally:
        await channel.close()
    assert response.request_id == "explicit"


async def test_a_call_made_as_the_service_carries_no_users_token(
    start_probe: Any, kit: Any, mesh_certs: Any
) -> None:
    probe = await start_probe(tls=mesh_certs["ledger"].tls)
    channel = clients.channel(probe.target, mesh_certs["billing"].tls)
    try:
        echo = channel.unary_unary(
            f"/{kit.SERVICE}/Echo",
            request_serializer=kit.EchoRequest.SerializeToString,
            response_deserializer=kit.EchoResponse.FromString,
        )
        with context.bound(principal=kit.PRINCIPAL):
            for_user = await echo(kit.valid_request(), timeout=5)
            as_billing = await echo(
                kit.valid_request(), metadata=clients.as_service("org-9"), timeout=5
            )
    finally:
        await channel.close()
    assert (for_user.subject, for_user.org_id) == ("user-1", "org-1")
    assert (as_billing.subject, as_billing.org_id) == ("billing", "org-9")


async def test_streaming_rpc_runs_through_the_chain(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    call = probe.stream()(
        kit.valid_request("s"), metadata=(("x-request-id", "stream-1"), *kit.AUTH), timeout=5
    )
    notes = [(r.note, r.request_id, r.subject) async for r in call]
    assert notes == [(f"s-{i}", "stream-1", "user-1") for i in range(3)]
    assert dict(await call.initial_metadata())["x-request-id"] == "stream-1"
