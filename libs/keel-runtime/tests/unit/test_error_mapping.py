"""Error lookup by MRO and violation paths, without a server."""

from __future__ import annotations

import grpc
from protovalidate import FieldPathElementPb, FieldPathPb, ViolationPb

from keel_runtime.errors import PermissionDenied, Unauthenticated
from keel_runtime.interceptors.error_mapping import ErrorMappingInterceptor
from keel_runtime.interceptors.validation import field_path, to_field_violation


class Base(Exception):
    reason = "BASE"


class Child(Base):
    reason = "CHILD"


class Unrelated(Exception):
    pass


def test_lookup_walks_the_mro_and_prefers_the_closest_class() -> None:
    interceptor = ErrorMappingInterceptor(
        "ledger", {Base: grpc.StatusCode.FAILED_PRECONDITION, Child: grpc.StatusCode.NOT_FOUND}
    )
    assert interceptor.code_for(Child) == grpc.StatusCode.NOT_FOUND
    assert interceptor.code_for(type("GrandChild", (Child,), {})) == grpc.StatusCode.NOT_FOUND
    assert interceptor.code_for(Base) == grpc.StatusCode.FAILED_PRECONDITION
    assert interceptor.code_for(Unrelated) is None


def test_runtime_errors_are_always_mapped() -> None:
    interceptor = ErrorMappingInterceptor("items", {})
    assert interceptor.code_for(Unauthenticated) == grpc.StatusCode.UNAUTHENTICATED
    assert interceptor.code_for(PermissionDenied) == grpc.StatusCode.PERMISSION_DENIED


def test_field_paths_render_nesting_and_subscripts() -> None:
    def element(name: str, **kw: object) -> FieldPathElementPb:
        from protobuf import Oneof

        subscript = next((Oneof(k, v) for k, v in kw.items()), None)
        return FieldPathElementPb(field_name=name, subscript=subscript)

    assert field_path([element("owner"), element("email")]) == "owner.email"
    assert field_path([element("lines", index=2), element("sku")]) == "lines[2].sku"
    assert field_path([element("labels", string_key="env")]) == 'labels["env"]'
    assert field_path([element("flags", bool_key=True)]) == "flags[true]"


def test_violation_without_a_field_is_request_level() -> None:
    violation = to_field_violation(ViolationPb(rule_id="message.cel", message="totals differ"))
    assert (violation.field, violation.description, violation.rule) == (
        "",
        "totals differ",
        "message.cel",
    )
    with_field = to_field_violation(
        ViolationPb(
            field=FieldPathPb(elements=[FieldPathElementPb(field_name="note")]),
            rule_id="string.min_len",
            message="too short",
        )
    )
    assert with_field.field == "note"


def test_unreachable_dependencies_are_outages_and_bugs_are_not() -> None:
    import nats.errors
    import psycopg
    import sqlalchemy.exc

    from keel_runtime.interceptors.outages import outage_reason

    def wrapped(cls: type[sqlalchemy.exc.DBAPIError], orig: Exception) -> Exception:
        return cls("SELECT 1", {}, orig)

    refused = psycopg.OperationalError("connection refused")
    assert (
        outage_reason(wrapped(sqlalchemy.exc.OperationalError, refused)) == "DATABASE_UNAVAILABLE"
    )
    assert outage_reason(refused) == "DATABASE_UNAVAILABLE"
    assert outage_reason(sqlalchemy.exc.TimeoutError("QueuePool limit")) == "DATABASE_UNAVAILABLE"
    closed = wrapped(sqlalchemy.exc.InterfaceError, psycopg.InterfaceError("connection closed"))
    assert outage_reason(closed) == "DATABASE_UNAVAILABLE"
    assert outage_reason(nats.errors.ConnectionClosedError()) == "BROKER_UNAVAILABLE"
    assert outage_reason(nats.errors.NoServersError()) == "BROKER_UNAVAILABLE"

    bad_sql = wrapped(sqlalchemy.exc.ProgrammingError, psycopg.ProgrammingError("no table"))
    assert outage_reason(bad_sql) is None
    integrity = wrapped(sqlalchemy.exc.IntegrityError, psycopg.IntegrityError("duplicate"))
    assert outage_reason(integrity) is None
    assert outage_reason(RuntimeError("bug")) is None
    assert outage_reason(nats.errors.BadSubjectError()) is None
