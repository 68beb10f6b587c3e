"""A tiny probe service with protovalidate rules, served by the runtime on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from keel_runtime import context
from keel_runtime.server import RunningServer, ServiceSpec, start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer

PACKAGE = "keel_runtime_tests.v1"
SERVICE = f"{PACKAGE}.ProbeService"

# (buf.validate.field) options as raw bytes: building them needs no generated buf.validate
# module, and protovalidate reads rules from the serialized descriptor.
#   field 1159 { string (14) { email (12): true } }
#   field 1159 { string (14) { min_len (2): 1 } }
_EMAIL_RULE = b"\xba\x48\x04\x72\x02\x60\x01"
_MIN_LEN_1_RULE = b"\xba\x48\x04\x72\x02\x10\x01"


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(
        name="keel_runtime_tests/v1/probe.proto", package=PACKAGE, syntax="proto3"
    )
    string, message = descriptor_pb2.FieldDescriptorProto.TYPE_STRING, 11
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL

    owner = f.message_type.add(name="Owner")
    email = owner.field.add(name="email", number=1, type=string, label=optional)
    email.options.MergeFromString(_EMAIL_RULE)

    request = f.message_type.add(name="EchoRequest")
    request.field.add(
        name="owner", number=1, type=message, type_name=f".{PACKAGE}.Owner", label=optional
    )
    note = request.field.add(name="note", number=2, type=string, label=optional)
    note.options.MergeFromString(_MIN_LEN_1_RULE)

    response = f.message_type.add(name="EchoResponse")
    for number, name in enumerate(
        ("note", "request_id", "traceparent", "subject", "org_id"), start=1
    ):
        response.field.add(name=name, number=number, type=string, label=optional)

    service = f.service.add(name="ProbeService")
    service.method.add(
        name="Echo", input_type=f".{PACKAGE}.EchoRequest", output_type=f".{PACKAGE}.EchoResponse"
    )
    service.method.add(
        name="Stream",
        input_type=f".{PACKAGE}.EchoRequest",
        output_type=f".{PACKAGE}.EchoResponse",
        server_streaming=True,
    )
    service.method.add(
        name="Public", input_type=f".{PACKAGE}.EchoRequest", output_type=f".{PACKAGE}.EchoResponse"
    )
    return f


def _message_classes() -> tuple[Any, Any]:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName("keel_runtime_tests/v1/probe.proto")
    except KeyError:
        pool.AddSerializedFile(_build_file().SerializeToString())
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.EchoRequest")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.EchoResponse")),
    )


EchoRequest, EchoResponse = _message_classes()


def valid_request(note: str = "hello") -> Any:
    request = EchoRequest(note=note)
    request.owner.email = "owner@example.com"
    return request


def context_response(note: str) -> Any:
    """What the servicer saw of the request context."""
    principal = context.current_principal()
    return EchoResponse(
        note=note,
        request_id=context.current_request_id(),
        traceparent=context.current_traceparent() or "",
        subject=principal.subject if principal else "",
        org_id=principal.org_id if principal else "",
    )


Behaviour = Callable[[Any, Any], Awaitable[Any]]


@dataclass
class ProbeServicer:
    """Default behaviours echo the request context; tests replace them per case."""

    echo: Behaviour | None = None
    stream_count: int = 3
    stream_error: BaseException | None = None
    calls: list[str] = field(default_factory=list)

    async def Echo(self, request: Any, ctx: Any) -> Any:
        self.calls.append("Echo")
        if self.echo is not None:
            return await self.echo(request, ctx)
        return context_response(request.note)

    async def Stream(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        for i in range(self.stream_count):
            yield context_response(f"{request.note}-{i}")
        if self.stream_error is not None:
            raise self.stream_error

    async def Public(self, request: Any, ctx: Any) -> Any:
        return context_response(request.note)


def add_probe_servicer(servicer: ProbeServicer, server: Any) -> None:
    def unary(fn: Any) -> Any:
        return grpc.unary_unary_rpc_method_handler(
            fn,
            request_deserializer=EchoRequest.FromString,
            response_serializer=EchoResponse.SerializeToString,
        )

    handlers = {
        "Echo": unary(servicer.Echo),
        "Public": unary(servicer.Public),
        "Stream": grpc.unary_stream_rpc_method_handler(
            servicer.Stream,
            request_deserializer=EchoRequest.FromString,
            response_serializer=EchoResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@dataclass
class Probe:
    """A running probe server and a plain channel to it (no context forwarding)."""

    running: RunningServer
    channel: Any
    servicer: ProbeServicer

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    def echo(self) -> Any:
        return self.channel.unary_unary(
            f"/{SERVICE}/Echo",
            request_serializer=EchoRequest.SerializeToString,
            response_deserializer=EchoResponse.FromString,
        )

    def public(self) -> Any:
        return self.channel.unary_unary(
            f"/{SERVICE}/Public",
            request_serializer=EchoRequest.SerializeToString,
            response_deserializer=EchoResponse.FromString,
        )

    def stream(self) -> Any:
        return self.channel.unary_stream(
            f"/{SERVICE}/Stream",
            request_serializer=EchoRequest.SerializeToString,
            response_deserializer=EchoResponse.FromString,
        )


ISSUER = TokenIssuer()
"""Signs the tests' access tokens; every probe server verifies them (its ``jwks``)."""
# Valid for the longest lifetime a service accepts: the whole session, however slow.
TOKEN = ISSUER.token("org-1", subject="user-1", roles=("admin",), ttl_seconds=3600)
AUTH = (("authorization", f"Bearer {TOKEN}"),)
PRINCIPAL = context.Principal(
    subject="user-1", org_id="org-1", roles=frozenset({"admin"}), kind="user", credential=TOKEN
)
"""What the servers make of AUTH; bound as the ambient principal, it forwards TOKEN."""

StartProbe = Callable[..., Awaitable[Probe]]


@pytest.fixture
async def start_probe() -> AsyncIterator[StartProbe]:
    """Factory: ``await start_probe(servicer=..., **ServiceSpec/ServerSettings overrides)``."""
    started: list[Probe] = []
    settings_fields = set(ServerSettings.__dataclass_fields__)

    async def _start(servicer: ProbeServicer | None = None, **overrides: Any) -> Probe:
        servicer = servicer or ProbeServicer()
        settings_kw = {k: v for k, v in overrides.items() if k in settings_fields}
        spec_kw = {k: v for k, v in overrides.items() if k not in settings_fields}
        spec_kw.setdefault("public_methods", (f"/{SERVICE}/Public",))
        spec_kw.setdefault("jwks", ISSUER.jwks)
        spec = ServiceSpec(
            name="probe",
            servicers=[(add_probe_servicer, servicer)],
            **spec_kw,
        )
        settings = ServerSettings(bind="127.0.0.1:0", grace_seconds=1.0, **settings_kw)
        running = await start(spec, settings)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        probe = Probe(running, channel, servicer)
        started.append(probe)
        return probe

    yield _start
    for probe in started:
        await probe.channel.close()
        await probe.running.stop(0)


class Kit:
    """What tests need from this module (conftest modules cannot be imported by name)."""

    SERVICE = SERVICE
    EchoRequest = EchoRequest
    EchoResponse = EchoResponse
    ProbeServicer = ProbeServicer
    PRINCIPAL = PRINCIPAL
    ISSUER = ISSUER
    AUTH = AUTH
    valid_request = staticmethod(valid_request)
    context_response = staticmethod(context_response)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit
