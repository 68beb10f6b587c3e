"""JSON Schemas for protobuf messages as Envoy's transcoder renders them (proto3 JSON mapping).

Field names are the lowerCamelCase `json_name`s; descriptions come from proto comments;
protovalidate rules and AIP-203 field behaviours become JSON Schema keywords where the
meaning is the same.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from buf.validate import validate_pb2
from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

Schema = dict[str, Any]
FDP = descriptor_pb2.FieldDescriptorProto
OUTPUT_ONLY = re.compile(r"\bOutput only\b")

# proto3 JSON mapping: 64-bit integers travel as strings, so JavaScript loses no precision.
SCALARS: dict[int, Schema] = {
    FDP.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FDP.TYPE_FLOAT: {"type": "number", "format": "float"},
    FDP.TYPE_INT32: {"type": "integer", "format": "int32"},
    FDP.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FDP.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FDP.TYPE_UINT32: {"type": "integer", "format": "uint32", "minimum": 0},
    FDP.TYPE_FIXED32: {"type": "integer", "format": "uint32", "minimum": 0},
    FDP.TYPE_INT64: {"type": "string", "format": "int64"},
    FDP.TYPE_SINT64: {"type": "string", "format": "int64"},
    FDP.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FDP.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FDP.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FDP.TYPE_BOOL: {"type": "boolean"},
    FDP.TYPE_STRING: {"type": "string"},
    FDP.TYPE_BYTES: {"type": "string", "format": "byte", "contentEncoding": "base64"},
}


def _wrapper(schema: Schema) -> Schema:
    # Wrapper types exist to tell "unset" from the zero value, hence the null.
    return {**schema, "type": [schema["type"], "null"]}


WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
        "description": 'Seconds with up to nine fractional digits and an "s" suffix, e.g. "1.5s".',
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": 'Comma-separated lowerCamelCase field paths, e.g. "title,summary".',
    },
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.NullValue": {"type": "null"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
        "description": 'A message of the type named by "@type", with its fields alongside.',
    },
    "google.protobuf.DoubleValue": _wrapper(SCALARS[FDP.TYPE_DOUBLE]),
    "google.protobuf.FloatValue": _wrapper(SCALARS[FDP.TYPE_FLOAT]),
    "google.protobuf.Int32Value": _wrapper(SCALARS[FDP.TYPE_INT32]),
    "google.protobuf.UInt32Value": _wrapper(SCALARS[FDP.TYPE_UINT32]),
    "google.protobuf.Int64Value": _wrapper(SCALARS[FDP.TYPE_INT64]),
    "google.protobuf.UInt64Value": _wrapper(SCALARS[FDP.TYPE_UINT64]),
    "google.protobuf.BoolValue": _wrapper(SCALARS[FDP.TYPE_BOOL]),
    "google.protobuf.StringValue": _wrapper(SCALARS[FDP.TYPE_STRING]),
    "google.protobuf.BytesValue": _wrapper(SCALARS[FDP.TYPE_BYTES]),
}

NUMBER_RULES = frozenset(
    {"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64"}
    | {"sfixed32", "sfixed64", "float", "double"}
)
# protovalidate's well-known string rules that have a JSON Schema format of the same meaning.
STRING_FORMATS = {
    "email": "email",
    "uuid": "uuid",
    "uri": "uri",
    "uri_ref": "uri-reference",
    "hostname": "hostname",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
}


def _comment(text: str) -> str:
    """A proto comment as prose: one leading space per line dropped, lint directives removed."""
    lines = [line[1:] if line.startswith(" ") else line for line in text.rstrip().split("\n")]
    return "\n".join(line.rstrip() for line in lines if "buf:lint:" not in line).strip()


@dataclass
class Catalog:
    """Every message, enum, service and comment of a descriptor set, by full name."""

    messages: dict[str, descriptor_pb2.DescriptorProto] = field(default_factory=dict)
    enums: dict[str, descriptor_pb2.EnumDescriptorProto] = field(default_factory=dict)
    services: list[tuple[str, descriptor_pb2.ServiceDescriptorProto]] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, files: Sequence[descriptor_pb2.FileDescriptorProto]) -> Catalog:
        catalog = cls()
        for original in files:
            file = descriptor_pb2.FileDescriptorProto()
            file.CopyFrom(original)  # json names may be filled in below; the caller's stay as given
            located = {
                tuple(loc.path): _comment(loc.leading_comments or loc.trailing_comments)
                for loc in file.source_code_info.location
                if loc.leading_comments or loc.trailing_comments
            }
            prefix = f".{file.package}" if file.package else ""
            for i, message in enumerate(file.message_type):
                catalog._add_message(f"{prefix}.{message.name}", message, (4, i), located)
            for i, enum in enumerate(file.enum_type):
                catalog._add_enum(f"{prefix}.{enum.name}", enum, (5, i), located)
            for i, service in enumerate(file.service):
                name = f"{file.package}.{service.name}"
                catalog.services.append((name, service))
                catalog._note(name, located, (6, i))
                for j, method in enumerate(service.method):
                    catalog._note(f"{name}.{method.name}", located, (6, i, 2, j))
        return catalog

    def _note(self, name: str, located: dict[tuple[int, ...], str], path: tuple[int, ...]) -> None:
        if located.get(path):
            self.comments[name] = located[path]

    def _add_message(
        self,
        name: str,
        message: descriptor_pb2.DescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        self.messages[name] = message
        self._note(name, located, path)
        for i, item in enumerate(message.field):
            if not item.json_name:  # descriptors copied from Python modules lack it
                item.json_name = _lower_camel(item.name)
            self._note(f"{name}.{item.name}", located, (*path, 2, i))
        for i, nested in enumerate(message.nested_type):
            self._add_message(f"{name}.{nested.name}", nested, (*path, 3, i), located)
        for i, enum in enumerate(message.enum_type):
            self._add_enum(f"{name}.{enum.name}", enum, (*path, 4, i), located)

    def _add_enum(
        self,
        name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        self.enums[name] = enum
        self._note(name, located, path)
        for i, value in enumerate(enum.value):
            self._note(f"{name}.{value.name}", located, (*path, 2, i))

    def field_path(self, message: str, path: str) -> list[descriptor_pb2.FieldDescriptorProto]:
        """The fields along a dotted proto field path such as `item.id`."""
        fields = []
        for part in path.split("."):
            found = next((f for f in self.messages[message].field if f.name == part), None)
            if found is None:
                raise SystemExit(f"openapi: {message[1:]} has no field {part!r} (in {path!r})")
            fields.append(found)
            message = found.type_name
        return fields

    def is_map(self, item: descriptor_pb2.FieldDescriptorProto) -> bool:
        entry = self.messages.get(item.type_name)
        return entry is not None and entry.options.map_entry


def _lower_camel(name: str) -> str:
    """protoc's json_name: underscores dropped, the letter after each one upper-cased."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_path(fields: Sequence[descriptor_pb2.FieldDescriptorProto]) -> str:
    return ".".join(f.json_name for f in fields)


def _component(type_name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{type_name.lstrip('.')}"}


class Schemas:
    """JSON Schemas for messages and enums, collected into components as they are used."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.components: dict[str, Schema] = {}

    def of_type(self, type_name: str) -> Schema:
        """A schema (or $ref) for a message or enum type name (leading dot)."""
        plain = type_name.lstrip(".")
        if plain in WELL_KNOWN:
            return dict(WELL_KNOWN[plain])
        if plain not in self.components:
            self.components[plain] = {}  # placeholder: recursive types terminate here
            if type_name in self.catalog.enums:
                self.components[plain] = self._enum(type_name)
            else:
                self.components[plain] = self.message(type_name)
        return _component(type_name)

    def _enum(self, type_name: str) -> Schema:
        enum = self.catalog.enums[type_name]
        schema: Schema = {"type": "string", "enum": [v.name for v in enum.value]}
        values = [
            f"- `{v.name}`: {self.catalog.comments[f'{type_name}.{v.name}']}"
            for v in enum.value
            if f"{type_name}.{v.name}" in self.catalog.comments
        ]
        text = "\n".join(filter(None, [self.catalog.comments.get(type_name, ""), *values]))
        return {"description": text, **schema} if text else schema

    def message(self, type_name: str, *, without: Collection[str] = ()) -> Schema:
        """An object schema for a message, leaving out the top-level fields named in `without`."""
        message = self.catalog.messages[type_name]
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for item in message.field:
            if item.name in without:
                continue
            properties[item.json_name] = self.of_field(type_name, item)
            if is_required(item):
                required.append(item.json_name)
        schema: Schema = {"type": "object"}
        if type_name in self.catalog.comments:
            schema["description"] = self.catalog.comments[type_name]
        schema["properties"] = properties
        if required:
            schema["required"] = required
        oneofs = self._oneofs(message, without)
        if oneofs:
            schema["x-oneof"] = {name: members for name, (members, _) in oneofs.items()}
            schema["allOf"] = [_oneof_rule(*group) for group in oneofs.values()]
        return schema

    def _oneofs(
        self, message: descriptor_pb2.DescriptorProto, without: Collection[str]
    ) -> dict[str, tuple[list[str], bool]]:
        """Each real oneof: its members' JSON names and whether one must be set."""
        groups: dict[str, tuple[list[str], bool]] = {}
        for item in message.field:
            if not in_oneof(item) or item.name in without:
                continue
            decl = message.oneof_decl[item.oneof_index]
            required = bool(decl.options.Extensions[validate_pb2.oneof].required)
            groups.setdefault(decl.name, ([], required))[0].append(item.json_name)
        return groups

    def of_field(self, owner: str, item: descriptor_pb2.FieldDescriptorProto) -> Schema:
        """The schema of one field, with its comment and protovalidate rules."""
        rules = _rules(item)
        if self.catalog.is_map(item):
            entry = self.catalog.messages[item.type_name]
            schema: Schema = {
                "type": "object",
                "additionalProperties": self._single(entry.field[1], rules.map.values),
            }
            _apply_map(schema, rules)
        elif item.label == FDP.LABEL_REPEATED:
            schema = {"type": "array", "items": self._single(item, rules.repeated.items)}
            _apply_repeated(schema, rules)
        else:
            schema = self._single(item, rules)
        text = self.catalog.comments.get(f"{owner}.{item.name}")
        if in_oneof(item):
            oneof = self.catalog.messages[owner].oneof_decl[item.oneof_index].name
            text = "\n\n".join(filter(None, [text, f"One of oneof `{oneof}`."]))
        if text:
            schema = {"description": text, **schema}
        behaviors = _behaviors(item)
        # AIP-203: the annotation, or the "Output only." comment convention where it is absent.
        if field_behavior_pb2.OUTPUT_ONLY in behaviors or OUTPUT_ONLY.search(text or ""):
            schema["readOnly"] = True
        if field_behavior_pb2.INPUT_ONLY in behaviors:
            schema["writeOnly"] = True
        if item.options.deprecated:
            schema["deprecated"] = True
        return schema

    def _single(
        self, item: descriptor_pb2.FieldDescriptorProto, rules: validate_pb2.FieldRules
    ) -> Schema:
        if item.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            schema = self.of_type(item.type_name)
        else:
            schema = dict(SCALARS[item.type])
        _apply_rules(schema, rules)
        return schema


def in_oneof(item: descriptor_pb2.FieldDescriptorProto) -> bool:
    # proto3 `optional` fields sit in synthetic oneofs that only mean presence.
    return item.HasField("oneof_index") and not item.proto3_optional


def _oneof_rule(names: Sequence[str], required: bool) -> Schema:
    """Exactly one member when protovalidate requires the oneof, else at most one."""
    if required:
        return {"oneOf": [{"required": [name]} for name in names]}
    pairs = [{"required": [a, b]} for i, a in enumerate(names) for b in names[i + 1 :]]
    return {"not": {"anyOf": pairs}} if pairs else {}


def _rules(item: descriptor_pb2.FieldDescriptorProto) -> validate_pb2.FieldRules:
    if item.options.HasExtension(validate_pb2.field):
        rules: validate_pb2.FieldRules = item.options.Extensions[validate_pb2.field]
        return rules
    return validate_pb2.FieldRules()


def _behaviors(item: descriptor_pb2.FieldDescriptorProto) -> list[int]:
    return list(item.options.Extensions[field_behavior_pb2.field_behavior])


def is_required(item: descriptor_pb2.FieldDescriptorProto) -> bool:
    """Whether a request without this field is rejected (protovalidate, or AIP-203 REQUIRED)."""
    rules = _rules(item)
    if rules.required or field_behavior_pb2.REQUIRED in _behaviors(item):
        return True
    # Fields with presence are validated only when set.
    if item.label == FDP.LABEL_REPEATED or item.proto3_optional or in_oneof(item):
        return False
    if item.type == FDP.TYPE_MESSAGE or rules.ignore:
        return False
    # Without presence, an absent field is its zero value and the rules run on it anyway.
    if rules.WhichOneof("type") == "string":
        string = rules.string
        rejects_empty = string.min_len > 0 or string.len > 0
        well_known = string.WhichOneof("well_known")
        return rejects_empty or (well_known in STRING_FORMATS and getattr(string, well_known))
    if rules.WhichOneof("type") == "enum":
        allowed = getattr(rules.enum, "in")
        return 0 in rules.enum.not_in or (bool(allowed) and 0 not in allowed)
    return False


def _apply_rules(schema: Schema, rules: validate_pb2.FieldRules) -> None:
    kind = rules.WhichOneof("type")
    if kind == "string":
        string = rules.string
        if string.HasField("len"):
            schema["minLength"] = schema["maxLength"] = string.len
        if string.HasField("min_len"):
            schema["minLength"] = string.min_len
        if string.HasField("max_len"):
            schema["maxLength"] = string.max_len
        if string.HasField("pattern"):
            _pattern(schema, string.pattern)
        if getattr(string, "in"):
            schema["enum"] = list(getattr(string, "in"))
        well_known = string.WhichOneof("well_known")
        if well_known in STRING_FORMATS and getattr(string, well_known):
            schema["format"] = STRING_FORMATS[well_known]
    elif kind in NUMBER_RULES:
        number = getattr(rules, kind)
        for bound, key in (("gte", "minimum"), ("lte", "maximum")):
            if number.HasField(bound):
                schema[key] = getattr(number, bound)
        for bound, key in (("gt", "exclusiveMinimum"), ("lt", "exclusiveMaximum")):
            if number.HasField(bound):
                schema[key] = getattr(number, bound)


def _pattern(schema: Schema, pattern: str) -> None:
    """protovalidate patterns are RE2; JSON Schema's are ECMA-262, which lacks inline flags."""
    try:
        re.compile(pattern)
        portable = "(?" not in pattern.replace("(?:", "")
    except re.error:
        portable = False
    if portable:
        schema["pattern"] = pattern
    else:
        schema["x-re2-pattern"] = pattern


def _apply_repeated(schema: Schema, rules: validate_pb2.FieldRules) -> None:
    repeated = rules.repeated
    if repeated.HasField("min_items"):
        schema["minItems"] = repeated.min_items
    if repeated.HasField("max_items"):
        schema["maxItems"] = repeated.max_items
    if repeated.unique:
        schema["uniqueItems"] = True


def _apply_map(schema: Schema, rules: validate_pb2.FieldRules) -> None:
    if rules.map.HasField("min_pairs"):
        schema["minProperties"] = rules.map.min_pairs
    if rules.map.HasField("max_pairs"):
        schema["maxProperties"] = rules.map.max_pairs
