"""The NUL walker: every string of a message, at any depth, in any shape, named by its path."""

from __future__ import annotations

from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2
from grpc_health.v1 import health_pb2
from keel.ledger.v1 import resources_pb2, transaction_service_pb2

from keel_runtime.interceptors import text
from keel_runtime.interceptors.text import RULE, text_violations
from keel_runtime.interceptors.validation import UNPARSABLE, Refused, checking

NUL = "\x00"


def _fields(message: object) -> list[str]:
    violations = text_violations(message)
    assert all(v.rule == RULE and v.description for v in violations), violations
    return [v.field for v in violations]


def test_clean_message_has_no_violations() -> None:
    request = transaction_service_pb2.CreateTransactionRequest(
        request_id="r-1", metadata={"purpose": "top-up"}
    )
    request.postings.add(account_id="a", asset_code="USD", amount=5)
    assert text_violations(request) == []


def test_top_level_nested_repeated_and_map_strings_are_named() -> None:
    request = transaction_service_pb2.CreateTransactionRequest(
        request_id=f"r{NUL}1", metadata={"fine": "ok", "purpose": f"top{NUL}up", f"k{NUL}": "v"}
    )
    request.postings.add(account_id="a", asset_code="USD")
    request.postings.add(account_id=f"b{NUL}", asset_code="USD")
    assert sorted(_fields(request)) == sorted(
        [
            "request_id",
            "postings[1].account_id",
            'metadata["purpose"]',
            'metadata["k\\u0000"]',  # the key itself, escaped
        ]
    )


def test_repeated_strings_and_recursive_types_are_walked() -> None:
    mask = field_mask_pb2.FieldMask(paths=["a", f"b{NUL}"])
    assert _fields(mask) == ["paths[1]"]

    # Struct -> map<string, Value> -> ListValue -> repeated Value -> Struct: a recursive type.
    document = struct_pb2.Struct()
    document.update({"outer": [{"inner": f"x{NUL}y"}, "fine"]})
    assert _fields(document) == [
        'fields["outer"].list_value.values[0].struct_value.fields["inner"].string_value'
    ]


def test_one_violation_per_string_and_nul_anywhere_in_it() -> None:
    health = health_pb2.HealthCheckRequest(service=f"{NUL}lead")
    assert _fields(health) == ["service"]
    health.service = f"trail{NUL}"
    assert _fields(health) == ["service"]


def test_types_without_text_are_planned_once_as_nothing_to_walk() -> None:
    assert text_violations(duration_pb2.Duration(seconds=3)) == []
    assert text._plans["google.protobuf.Duration"] == ()
    # A type reaching text only through a message field keeps that field in its plan.
    text_violations(transaction_service_pb2.CreateTransactionRequest())
    plan = text._plans["keel.ledger.v1.CreateTransactionRequest"]
    assert "postings" in {step.name for step in plan}
    assert resources_pb2.Posting.DESCRIPTOR.full_name in text._plans


def test_objects_that_are_not_messages_are_left_alone() -> None:
    assert text_violations(object()) == []


def test_parsing_refuses_nul_and_bytes_that_are_not_utf8() -> None:
    deserialize = checking(health_pb2.HealthCheckRequest.FromString)
    assert deserialize is not None
    clean = deserialize(health_pb2.HealthCheckRequest(service="ok").SerializeToString())
    assert clean == health_pb2.HealthCheckRequest(service="ok")

    refused = deserialize(health_pb2.HealthCheckRequest(service=f"a{NUL}").SerializeToString())
    assert isinstance(refused, Refused)
    assert [v.field for v in refused.violations] == ["service"]
    assert refused.message == health_pb2.HealthCheckRequest(service=f"a{NUL}")

    # service (field 1) = the UTF-8-style encoding of the lone surrogate U+D800.
    unparsable = deserialize(b"\x0a\x03\xed\xa0\x80")
    assert unparsable == Refused((UNPARSABLE,))
