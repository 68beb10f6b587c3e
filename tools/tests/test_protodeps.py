"""Round-trip checks for the descriptor printer behind build/protodeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

import protodeps
import protoprint


def _compile(root: Path, name: str) -> descriptor_pb2.FileDescriptorProto:
    out = root / "set.pb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{protodeps.GRPC_TOOLS_INCLUDE}",
            f"-I{root}",
            f"--descriptor_set_out={out}",
            name,
        ],
        check=True,
        capture_output=True,
    )
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    assert [f.name for f in files] == [name]
    return files[0]


def _normalized(fdp: descriptor_pb2.FileDescriptorProto) -> bytes:
    """Deterministic bytes with options resolved, so extension options compare by value."""
    copy = descriptor_pb2.FileDescriptorProto()
    copy.CopyFrom(fdp)
    copy.ClearField("source_code_info")
    resolver = protoprint.OptionsResolver([copy])
    for _, options in _all_options(copy):
        resolved = resolver.resolve(options)
        options.Clear()
        options.MergeFromString(resolved.SerializeToString(deterministic=True))
    return bytes(copy.SerializeToString(deterministic=True))


def _all_options(fdp: descriptor_pb2.FileDescriptorProto):  # type: ignore[no-untyped-def]
    def message(msg: descriptor_pb2.DescriptorProto):  # type: ignore[no-untyped-def]
        yield msg.name, msg.options
        for f in [*msg.field, *msg.extension]:
            yield f.name, f.options
        for o in msg.oneof_decl:
            yield o.name, o.options
        for e in msg.enum_type:
            yield from enum(e)
        for n in msg.nested_type:
            yield from message(n)

    def enum(e: descriptor_pb2.EnumDescriptorProto):  # type: ignore[no-untyped-def]
        yield e.name, e.options
        for v in e.value:
            yield v.name, v.options

    yield fdp.name, fdp.options
    for f in fdp.extension:
        yield f.name, f.options
    for e in fdp.enum_type:
        yield from enum(e)
    for m in fdp.message_type:
        yield from message(m)


def _roundtrip(fdp: descriptor_pb2.FileDescriptorProto, tmp_path: Path) -> None:
    path = tmp_path / fdp.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(protoprint.print_file(fdp))
    compiled = _compile(tmp_path, fdp.name)
    assert _normalized(compiled) == _normalized(fdp)


def test_validate_proto_roundtrips_through_protoc(tmp_path: Path) -> None:
    original = protodeps.validate_descriptor()
    assert original.name == protodeps.VALIDATE_PROTO
    _roundtrip(original, tmp_path)
    # build/protodeps holds the buf-formatted text: it must describe the same file.
    subprocess.run([protodeps.buf_binary(), "format", "-w", str(tmp_path)], check=True)
    assert _normalized(_compile(tmp_path, original.name)) == _normalized(original)


def test_printed_validate_proto_keeps_predefined_rules() -> None:
    text = protoprint.print_file(protodeps.validate_descriptor())
    assert 'syntax = "proto2";' in text
    assert "[(buf.validate.predefined) = {" in text
    assert "extend .google.protobuf.FieldOptions {" in text
    assert "extensions 1000 to max;" in text


def test_proto3_constructs_roundtrip(tmp_path: Path) -> None:
    source = tmp_path / "src" / "sample" / "v1" / "sample.proto"
    source.parent.mkdir(parents=True)
    source.write_text(
        """syntax = "proto3";
package sample.v1;
import "google/protobuf/timestamp.proto";
option java_multiple_files = true;
enum Colour {
  option allow_alias = true;
  COLOUR_UNSPECIFIED = 0;
  COLOUR_RED = 1;
  COLOUR_CRIMSON = 1 [deprecated = true];
  reserved 5 to 9, 100 to max;
  reserved "COLOUR_BLUE";
}
message Thing {
  message Inner { repeated int32 values = 1 [packed = false]; }
  string name = 1 [json_name = "label"];
  optional int64 count = 2;
  map<string, Inner> by_key = 3;
  oneof choice {
    google.protobuf.Timestamp at = 4;
    Colour colour = 5;
  }
  bytes blob = 6 [deprecated = true];
  reserved 10, 12 to 14;
  reserved "old";
}
service ThingService {
  rpc Get(Thing) returns (Thing);
  rpc Watch(stream Thing) returns (stream Thing) { option deprecated = true; }
}
"""
    )
    original = _compile(tmp_path / "src", "sample/v1/sample.proto")
    _roundtrip(original, tmp_path / "out")


def test_proto2_defaults_roundtrip(tmp_path: Path) -> None:
    source = tmp_path / "src" / "legacy.proto"
    source.parent.mkdir(parents=True)
    source.write_text(
        """syntax = "proto2";
package legacy;
message Old {
  optional string s = 1 [default = "a\\"b\\n"];
  optional bytes b = 2 [default = "\\001x"];
  optional double d = 3 [default = inf];
  optional Kind k = 4 [default = KIND_B];
  required int32 r = 5;
  extensions 100 to 199;
  enum Kind { KIND_A = 1; KIND_B = 2; }
}
extend Old { optional string note = 100; }
"""
    )
    original = _compile(tmp_path / "src", "legacy.proto")
    _roundtrip(original, tmp_path / "out")


def test_unsupported_syntax_is_refused() -> None:
    fdp = descriptor_pb2.FileDescriptorProto(name="e.proto", syntax="editions")
    with pytest.raises(protoprint.UnsupportedDescriptor):
        protoprint.print_file(fdp)
