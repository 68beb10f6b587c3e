"""Print a FileDescriptorProto back to .proto source text (proto2 and proto3, no editions)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    message_factory,
    struct_pb2,
    text_format,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.text_encoding import CEscape
from google.protobuf.unknown_fields import UnknownFieldSet

FDP = descriptor_pb2.FieldDescriptorProto
# Importing these registers the well-known types in the default pool, where imports of
# google/protobuf/*.proto are looked up.
_WELL_KNOWN = (
    any_pb2,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
_MAX_FIELD = 536870911  # field numbers are 29-bit; `max` in a range means this
_MAX_ENUM = 2147483647  # enum values are int32

_SCALARS: dict[int, str] = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}
_LABELS = {
    FDP.LABEL_OPTIONAL: "optional",
    FDP.LABEL_REQUIRED: "required",
    FDP.LABEL_REPEATED: "repeated",
}


class UnsupportedDescriptor(ValueError):
    """The descriptor uses a construct this printer does not emit (editions, groups, ...)."""


def default_json_name(name: str) -> str:
    """protoc's default json_name: drop underscores and upper-case the letter after each."""
    out: list[str] = []
    upper_next = False
    for ch in name:
        if ch == "_":
            upper_next = True
        elif upper_next:
            out.append(ch.upper())
            upper_next = False
        else:
            out.append(ch)
    return "".join(out)


class OptionsResolver:
    """Re-reads options bytes with a pool that knows the custom extensions.

    Options parsed by descriptor_pb2 keep custom extensions (e.g. buf.validate.field) as
    unknown fields; re-parsing them with classes from a pool holding the extending files
    turns them into named extension fields that can be printed.
    """

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self._pool = descriptor_pool.DescriptorPool()
        self._known = {fdp.name: fdp for fdp in files}
        self._added: set[str] = set()
        for name in [descriptor_pb2.DESCRIPTOR.name, *self._known]:
            self._add(name)

    def _add(self, name: str) -> None:
        """Add a file after its imports; imports not given come from the default pool (WKTs)."""
        if name in self._added:
            return
        self._added.add(name)
        fdp = self._known.get(name)
        if fdp is None:
            fdp = descriptor_pb2.FileDescriptorProto()
            descriptor_pool.Default().FindFileByName(name).CopyToProto(fdp)
        for dep in fdp.dependency:
            self._add(dep)
        self._pool.AddSerializedFile(fdp.SerializeToString())

    def resolve(self, options: Message) -> Message:
        desc = self._pool.FindMessageTypeByName(options.DESCRIPTOR.full_name)
        resolved = message_factory.GetMessageClass(desc).FromString(options.SerializeToString())
        if len(UnknownFieldSet(resolved)):
            raise UnsupportedDescriptor(f"unknown option fields in {desc.full_name}")
        return resolved


def _quote(data: bytes) -> str:
    """A double-quoted string literal valid in .proto files and text format."""
    return '"' + str(CEscape(data, as_utf8=False)) + '"'


def _literal(field: FieldDescriptor, value: Any, indent: str) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        body = text_format.MessageToString(value, indent=len(indent) + 2)
        return "{\n" + body + indent + "}" if body else "{}"
    if field.type == FieldDescriptor.TYPE_ENUM:
        return str(field.enum_type.values_by_number[value].name)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "true" if value else "false"
    if field.type == FieldDescriptor.TYPE_STRING:
        return _quote(value.encode("utf-8"))
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _quote(value)
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return repr(value)  # inf and nan spell the same in .proto files
    return str(value)


def _option_items(options: Message, indent: str) -> Iterator[str]:
    """`name = value` strings, one per (repeated) option value, extensions in parentheses."""
    for field, value in options.ListFields():
        name = f"({field.full_name})" if field.is_extension else field.name
        values = value if field.is_repeated else [value]
        for item in values:
            yield f"{name} = {_literal(field, item, indent)}"


def _range(start: int, end_inclusive: int, maximum: int) -> str:
    if start == end_inclusive:
        return str(start)
    return f"{start} to {'max' if end_inclusive == maximum else end_inclusive}"


class ProtoPrinter:
    """Turns one FileDescriptorProto into .proto text."""

    def __init__(self, fdp: descriptor_pb2.FileDescriptorProto, resolver: OptionsResolver) -> None:
        self._fdp = fdp
        self._proto3 = fdp.syntax == "proto3"
        self._resolver = resolver
        self._lines: list[str] = []

    def render(self) -> str:
        fdp = self._fdp
        self._emit("", f'syntax = "{fdp.syntax or "proto2"}";', blank=False)
        if fdp.package:
            self._emit("", f"package {fdp.package};", blank=True)
        public, weak = set(fdp.public_dependency), set(fdp.weak_dependency)
        for i, dep in enumerate(fdp.dependency):
            kind = "public " if i in public else "weak " if i in weak else ""
            self._emit("", f'import {kind}"{dep}";', blank=i == 0)
        self._options("", fdp.options)
        for enum in fdp.enum_type:
            self._enum("", enum)
        for msg in fdp.message_type:
            self._message("", msg)
        self._extensions("", fdp.extension)
        for svc in fdp.service:
            self._service(svc)
        return "\n".join(self._lines) + "\n"

    def _emit(self, indent: str, text: str, *, blank: bool = False) -> None:
        if blank and self._lines and self._lines[-1] != "" and not self._lines[-1].endswith("{"):
            self._lines.append("")
        self._lines.append(indent + text)

    def _options(self, indent: str, options: Message) -> None:
        for i, item in enumerate(_option_items(self._resolver.resolve(options), indent)):
            self._emit(indent, f"option {item};", blank=i == 0)

    def _bracket(self, indent: str, options: Message | None, extra: list[str]) -> str:
        items = list(extra)
        if options is not None:
            items += _option_items(self._resolver.resolve(options), indent)
        return f" [{', '.join(items)}]" if items else ""

    def _enum(self, indent: str, enum: descriptor_pb2.EnumDescriptorProto) -> None:
        inner = indent + "  "
        self._emit(indent, f"enum {enum.name} {{", blank=True)
        self._options(inner, enum.options)
        for value in enum.value:
            opts = self._bracket(inner, value.options if value.HasField("options") else None, [])
            self._emit(inner, f"{value.name} = {value.number}{opts};")
        self._reserved(inner, [(r.start, r.end) for r in enum.reserved_range], _MAX_ENUM)
        self._reserved_names(inner, enum.reserved_name)
        self._emit(indent, "}")

    def _reserved(self, indent: str, ranges: list[tuple[int, int]], maximum: int) -> None:
        if ranges:
            text = ", ".join(_range(start, end, maximum) for start, end in ranges)
            self._emit(indent, f"reserved {text};")

    def _reserved_names(self, indent: str, names: Iterable[str]) -> None:
        quoted = ", ".join(f'"{name}"' for name in names)
        if quoted:
            self._emit(indent, f"reserved {quoted};")

    def _message(self, indent: str, msg: descriptor_pb2.DescriptorProto) -> None:
        inner = indent + "  "
        self._emit(indent, f"message {msg.name} {{", blank=True)
        self._options(inner, msg.options)
        maps = {n.name: n for n in msg.nested_type if n.options.map_entry}
        for enum in msg.enum_type:
            self._enum(inner, enum)
        # protoc appends a map field's entry type to nested_type where the field is declared,
        # so nested messages listed before an entry are printed before that map field.
        printed = 0
        open_oneof: int | None = None
        for field in msg.field:
            oneof = field.oneof_index if field.HasField("oneof_index") else None
            if oneof is not None and field.proto3_optional:
                oneof = None  # synthetic oneof of a proto3 `optional` field
            if oneof != open_oneof and open_oneof is not None:
                self._emit(inner, "}")
            entry = maps.get(field.type_name.rsplit(".", 1)[-1]) if field.type_name else None
            if entry is not None and field.label == FDP.LABEL_REPEATED:
                printed = self._nested(inner, msg, list(msg.nested_type).index(entry), printed)
            if oneof is not None and oneof != open_oneof:
                decl = msg.oneof_decl[oneof]
                self._emit(inner, f"oneof {decl.name} {{", blank=True)
                self._options(inner + "  ", decl.options)
            open_oneof = oneof
            depth = inner + "  " if oneof is not None else inner
            self._field(depth, field, maps, in_oneof=oneof is not None)
        if open_oneof is not None:
            self._emit(inner, "}")
        self._nested(inner, msg, len(msg.nested_type), printed)
        self._extensions(inner, msg.extension)
        for ext_range in msg.extension_range:
            span = _range(ext_range.start, ext_range.end - 1, _MAX_FIELD)
            opts = ext_range.options if ext_range.HasField("options") else None
            self._emit(inner, f"extensions {span}{self._bracket(inner, opts, [])};", blank=True)
        ranges = [(r.start, r.end - 1) for r in msg.reserved_range]
        self._reserved(inner, ranges, _MAX_FIELD)
        self._reserved_names(inner, msg.reserved_name)
        self._emit(indent, "}")

    def _nested(
        self, indent: str, msg: descriptor_pb2.DescriptorProto, stop: int, start: int
    ) -> int:
        """Print nested messages start..stop-1 (skipping map entries); returns the next index."""
        for nested in msg.nested_type[start:stop]:
            if not nested.options.map_entry:
                self._message(indent, nested)
        return max(start, stop + 1)

    def _type(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            return str(field.type_name)
        if field.type == FDP.TYPE_GROUP:
            raise UnsupportedDescriptor(f"group field {field.name}")
        return _SCALARS[field.type]

    def _field(
        self,
        indent: str,
        field: descriptor_pb2.FieldDescriptorProto,
        maps: dict[str, descriptor_pb2.DescriptorProto],
        *,
        in_oneof: bool,
    ) -> None:
        entry = maps.get(field.type_name.rsplit(".", 1)[-1]) if field.type_name else None
        if entry is not None and field.label == FDP.LABEL_REPEATED:
            key, value = entry.field
            decl = f"map<{self._type(key)}, {self._type(value)}>"
        elif in_oneof:
            decl = self._type(field)
        elif self._proto3:
            label = {FDP.LABEL_REPEATED: "repeated "}.get(field.label, "")
            decl = ("optional " if field.proto3_optional else label) + self._type(field)
        else:
            decl = f"{_LABELS[field.label]} {self._type(field)}"
        extra: list[str] = []
        if field.HasField("default_value"):
            extra.append(f"default = {self._default(field)}")
        if field.HasField("json_name") and field.json_name != default_json_name(field.name):
            extra.append(f"json_name = {_quote(field.json_name.encode('utf-8'))}")
        opts = self._bracket(indent, field.options if field.HasField("options") else None, extra)
        self._emit(indent, f"{decl} {field.name} = {field.number}{opts};")

    @staticmethod
    def _default(field: descriptor_pb2.FieldDescriptorProto) -> str:
        if field.type == FDP.TYPE_STRING:
            return _quote(field.default_value.encode("utf-8"))
        if field.type == FDP.TYPE_BYTES:
            return f'"{field.default_value}"'  # already C-escaped in the descriptor
        return str(field.default_value)

    def _extensions(
        self, indent: str, extensions: Iterable[descriptor_pb2.FieldDescriptorProto]
    ) -> None:
        extendee: str | None = None
        inner = indent + "  "
        for ext in extensions:
            if ext.extendee != extendee:
                if extendee is not None:
                    self._emit(indent, "}")
                extendee = ext.extendee
                self._emit(indent, f"extend {extendee} {{", blank=True)
            self._field(inner, ext, {}, in_oneof=False)
        if extendee is not None:
            self._emit(indent, "}")

    def _service(self, svc: descriptor_pb2.ServiceDescriptorProto) -> None:
        self._emit("", f"service {svc.name} {{", blank=True)
        self._options("  ", svc.options)
        for method in svc.method:
            request = ("stream " if method.client_streaming else "") + method.input_type
            response = ("stream " if method.server_streaming else "") + method.output_type
            head = f"rpc {method.name}({request}) returns ({response})"
            items = list(_option_items(self._resolver.resolve(method.options), "    "))
            if items:
                self._emit("  ", head + " {")
                for item in items:
                    self._emit("    ", f"option {item};")
                self._emit("  ", "}")
            else:
                self._emit("  ", head + ";")
        self._emit("", "}")


def print_file(
    fdp: descriptor_pb2.FileDescriptorProto, deps: Iterable[descriptor_pb2.FileDescriptorProto] = ()
) -> str:
    """Render `fdp` as .proto text; `deps` are the files defining custom options it uses."""
    if fdp.syntax not in ("", "proto2", "proto3"):
        raise UnsupportedDescriptor(f"{fdp.name}: syntax {fdp.syntax!r}")
    return ProtoPrinter(fdp, OptionsResolver([*deps, fdp])).render()
