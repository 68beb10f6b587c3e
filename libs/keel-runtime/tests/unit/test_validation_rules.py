"""Which request types can skip protovalidate: none reachable from them declares a rule."""

from __future__ import annotations

from typing import Any

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    struct_pb2,  # noqa: F401 - registers struct.proto, which Tree uses
)
from grpc_health.v1 import health_pb2

from keel_runtime.interceptors.validation import needs_validation

PACKAGE = "keel_runtime_tests.rules.v1"
# (buf.validate.field).string.min_len = 1, as raw option bytes (see the component conftest).
_MIN_LEN_1_RULE = b"\xba\x48\x04\x72\x02\x10\x01"

_STRING, _MESSAGE = 9, 11
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(
        name="keel_runtime_tests/rules/v1/rules.proto", package=PACKAGE, syntax="proto3"
    )
    leaf = f.message_type.add(name="Leaf")
    note = leaf.field.add(name="note", number=1, type=_STRING, label=_OPTIONAL)
    note.options.MergeFromString(_MIN_LEN_1_RULE)

    wrapper = f.message_type.add(name="Wrapper")  # no rule of its own, one level down
    wrapper.field.add(
        name="leaf", number=1, type=_MESSAGE, type_name=f".{PACKAGE}.Leaf", label=_OPTIONAL
    )

    holder = f.message_type.add(name="MapHolder")  # a rule in a map's values
    entry = holder.nested_type.add(name="LeavesEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=_STRING, label=_OPTIONAL)
    entry.field.add(
        name="value", number=2, type=_MESSAGE, type_name=f".{PACKAGE}.Leaf", label=_OPTIONAL
    )
    holder.field.add(
        name="leaves",
        number=1,
        type=_MESSAGE,
        type_name=f".{PACKAGE}.MapHolder.LeavesEntry",
        label=_REPEATED,
    )

    tree = f.message_type.add(name="Tree")  # recursive and rule-free
    tree.field.add(name="name", number=1, type=_STRING, label=_OPTIONAL)
    tree.field.add(
        name="children", number=2, type=_MESSAGE, type_name=f".{PACKAGE}.Tree", label=_REPEATED
    )
    tree.field.add(
        name="attributes",
        number=3,
        type=_MESSAGE,
        type_name=".google.protobuf.Struct",
        label=_OPTIONAL,
    )
    f.dependency.append("google/protobuf/struct.proto")
    return f


def _message(name: str) -> Any:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName("keel_runtime_tests/rules/v1/rules.proto")
    except KeyError:
        pool.AddSerializedFile(_build_file().SerializeToString())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))()


def test_message_with_a_rule_needs_validation() -> None:
    assert needs_validation(_message("Leaf"))


def test_rules_of_nested_messages_count() -> None:
    assert needs_validation(_message("Wrapper"))
    assert needs_validation(_message("MapHolder"))


def test_rule_free_messages_skip_validation() -> None:
    assert not needs_validation(_message("Tree"))  # Struct recurses through Value, too
    assert not needs_validation(health_pb2.HealthCheckRequest())


def test_uninspectable_message_is_validated() -> None:
    assert needs_validation(object())
