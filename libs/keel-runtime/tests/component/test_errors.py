"""Error mapping, validation and hiding of unmapped failures, decoded as a client sees them."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from keel_runtime.errors import FieldViolation, ValidationFailed


class DomainError(Exception):
    reason = "DOMAIN_ERROR"


class AccountNotFound(DomainError):
    reason = "ACCOUNT_NOT_FOUND"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} not found")
        self.metadata = {"account_id": account_id}


class ClosedAccountNotFound(AccountNotFound):
    """Unmapped itself: found through the MRO."""


class DriverError(Exception):
    """Stands in for a database driver error whose text holds SQL."""


def details_of(error: grpc.aio.AioRpcError) -> dict[str, Any]:
    """Unpacked google.rpc.Status details by type name."""
    status = rpc_status.from_call(error)
    assert status is not None, "no google.rpc.Status in trailing metadata"
    found: dict[str, Any] = {}
    for detail in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RequestInfo,
            error_details_pb2.BadRequest,
        ):
            if detail.Is(cls.DESCRIPTOR):
                message = cls()
                detail.Unpack(message)
                found[cls.DESCRIPTOR.name] = message
    assert len(found) == len(status.details)
    return found


ERROR_MAP = {
    AccountNotFound: grpc.StatusCode.NOT_FOUND,
    DomainError: grpc.StatusCode.FAILED_PRECONDITION,
    DriverError: grpc.StatusCode.UNAVAILABLE,
}


def raising(exc: BaseException) -> Any:
    async def behaviour(request: Any, ctx: Any) -> Any:
        raise exc

    return behaviour


async def call_failing(probe: Any, kit: Any, request: Any = None) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await probe.echo()(
            request if request is not None else kit.valid_request(),
            metadata=(("x-request-id", "err-1"), *kit.AUTH),
            timeout=5,
        )
    return caught.value


async def test_domain_error_maps_to_code_with_error_info(start_probe: Any, kit: Any) -> None:
    probe = await start_probe(
        kit.ProbeServicer(echo=raising(ClosedAccountNotFound("a-1"))), error_map=ERROR_MAP
    )
    error = await call_failing(probe, kit)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "account a-1 not found"
    details = details_of(error)
    info = details["ErrorInfo"]
    assert (info.reason, info.domain) == ("ACCOUNT_NOT_FOUND", "probe.keel")
    assert dict(info.metadata) == {"account_id": "a-1"}
    assert details["RequestInfo"].request_id == "err-1"


async def test_base_class_mapping_applies_to_subclasses(start_probe: Any, kit: Any) -> None:
    class Frozen(DomainError):
        reason = "ACCOUNT_FROZEN"

    probe = await start_probe(
        kit.ProbeServicer(echo=raising(Frozen("frozen"))), error_map=ERROR_MAP
    )
    error = await call_failing(probe, kit)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details_of(error)["ErrorInfo"].reason == "ACCOUNT_FROZEN"


async def test_mapped_foreign_exception_gets_a_generic_message(start_probe: Any, kit: Any) -> None:
    probe = await start_probe(
        kit.ProbeServicer(echo=raising(DriverError("SELECT secret FROM users"))),
        error_map=ERROR_MAP,
    )
    error = await call_failing(probe, kit)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "SELECT" not in (error.details() or "")
    assert details_of(error)["ErrorInfo"].reason == "UNAVAILABLE"


async def test_unmapped_exception_is_internal_and_logged(
    start_probe: Any, kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    probe = await start_probe(
        kit.ProbeServicer(echo=raising(RuntimeError("SELECT * FROM secret_table"))),
        error_map=ERROR_MAP,
    )
    error = await call_failing(probe, kit)
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error"
    details = details_of(error)
    assert set(details) == {"RequestInfo"}
    assert details["RequestInfo"].request_id == "err-1"
    status = rpc_status.from_call(error)
    assert b"secret_table" not in status.SerializeToString()
    assert "Traceback" not in repr(error.trailing_metadata())
    [logged] = [r for r in caplog.records if r.name == "keel.errors"]
    assert logged.levelno == logging.ERROR
    assert logged.error_type == "RuntimeError"  # type: ignore[attr-defined]
    assert "RuntimeError: [message redacted]" in logged.traceback  # type: ignore[attr-defined]
    assert "secret_table" not in caplog.text


async def test_servicer_abort_passes_through_untouched(start_probe: Any, kit: Any) -> None:
    async def aborting(request: Any, ctx: Any) -> Any:
        await ctx.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down")

    probe = await start_probe(kit.ProbeServicer(echo=aborting))
    error = await call_failing(probe, kit)
    assert (error.code(), error.details()) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down")


async def test_protovalidate_violations_become_bad_request(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    request = kit.EchoRequest(note="")
    request.owner.email = "not-an-email"
    error = await call_failing(probe, kit, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = details_of(error)
    violations = {v.field: v for v in details["BadRequest"].field_violations}
    assert set(violations) == {"owner.email", "note"}
    assert violations["owner.email"].reason == "string.email"
    assert violations["owner.email"].description
    info = details["ErrorInfo"]
    assert (info.reason, info.domain) == ("VALIDATION_FAILED", "probe.keel")
    assert details["RequestInfo"].request_id == "err-1"
    assert probe.servicer.calls == []  # the servicer never saw the invalid request


async def test_handler_raised_validation_failed_is_bad_request(start_probe: Any, kit: Any) -> None:
    failure = ValidationFailed([FieldViolation("amount", "must be positive", "AMOUNT_POSITIVE")])
    probe = await start_probe(kit.ProbeServicer(echo=raising(failure)))
    error = await call_failing(probe, kit)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = details_of(error)["BadRequest"].field_violations
    assert (violation.field, violation.description) == ("amount", "must be positive")


async def test_error_after_stream_started_is_mapped(start_probe: Any, kit: Any) -> None:
    servicer = kit.ProbeServicer(stream_count=2, stream_error=AccountNotFound("a-9"))
    probe = await start_probe(servicer, error_map=ERROR_MAP)
    call = probe.stream()(kit.valid_request("s"), metadata=kit.AUTH, timeout=5)
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for response in call:
            received.append(response.note)
    assert received == ["s-0", "s-1"]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert details_of(caught.value)["ErrorInfo"].reason == "ACCOUNT_NOT_FOUND"


async def test_nul_in_any_string_is_bad_request_before_the_servicer(
    start_probe: Any, kit: Any
) -> None:
    probe = await start_probe()
    request = kit.valid_request("a\x00b")
    request.owner.email = "owner\x00@example.com"
    error = await call_failing(probe, kit, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = details_of(error)
    violations = {v.field: v.reason for v in details["BadRequest"].field_violations}
    # The NUL is named for each field; protovalidate's own rules still apply alongside.
    assert violations["note"] == "string.no_nul"
    assert "owner.email" in violations
    assert details["ErrorInfo"].reason == "VALIDATION_FAILED"
    assert probe.servicer.calls == []


async def test_invalid_utf8_in_a_string_is_bad_request(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    raw = probe.channel.unary_unary(
        f"/{kit.SERVICE}/Echo",
        request_serializer=lambda data: data,
        response_deserializer=kit.EchoResponse.FromString,
    )
    # note (field 2) = the UTF-8-style encoding of the lone surrogate U+D800: not UTF-8.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await raw(b"\x12\x03\xed\xa0\x80", metadata=kit.AUTH, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = details_of(caught.value)["BadRequest"].field_violations
    assert violation.reason == "message.parse"
    assert "Error parsing" not in (caught.value.details() or "")  # not the parser's text
    assert probe.servicer.calls == []
