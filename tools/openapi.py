"""Build the gateway's OpenAPI 3.1 document from the descriptor set (the last step of `make gen`).

The document describes what Envoy's grpc_json_transcoder serves: one operation per
`google.api.http` binding of a transcoded service, field names in the lowerCamelCase the
transcoder prints, and the proto3 JSON mapping for scalars and well-known types.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from openapi_schema import FDP, WELL_KNOWN, Catalog, Schema, Schemas, is_required, json_path

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR_SET = ROOT / "gateway" / "build" / "keel.pb"
OUT = ROOT / "gateway" / "build" / "openapi.json"
RENDER = ROOT / "gateway" / "render.py"

HTTP_BODY = "google.api.HttpBody"
STATUS = "google.rpc.Status"
SECURITY_SCHEME = "bearerAuth"
TEMPLATE_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")
# Well-known types the transcoder accepts as a single query parameter value.
QUERY_WELL_KNOWN = frozenset(WELL_KNOWN) - {
    "google.protobuf.Empty",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.Any",
}


@dataclass(frozen=True)
class Binding:
    """One HTTP binding of a method: verb, path template and body selectors."""

    verb: str
    template: str
    body: str
    response_body: str


def bindings(rule: http_pb2.HttpRule) -> Iterator[Binding]:
    """The rule's own binding, then its additional_bindings."""
    for current in (rule, *rule.additional_bindings):
        kind = current.WhichOneof("pattern")
        if kind is None:
            continue
        if kind == "custom":
            yield Binding(
                current.custom.kind.lower(), current.custom.path, current.body, rule.response_body
            )
        else:
            yield Binding(kind, getattr(current, kind), current.body, rule.response_body)


class Builder:
    """Operations for every http-bound method of the chosen services."""

    def __init__(
        self,
        catalog: Catalog,
        public_methods: Collection[str],
        hidden_methods: Collection[str] = (),
    ) -> None:
        self.catalog = catalog
        self.schemas = Schemas(catalog)
        self.public = frozenset(public_methods)
        self.hidden = frozenset(hidden_methods)
        self.paths: dict[str, dict[str, Any]] = {}
        self.tags: list[Schema] = []

    def add_service(
        self, full_name: str, service: descriptor_pb2.ServiceDescriptorProto, label: str
    ) -> None:
        """Add the service's bound methods under `label` (its tag and operationId prefix)."""
        operations = 0
        for method in service.method:
            if not method.options.HasExtension(annotations_pb2.http):
                continue  # internal: no REST binding, so not part of the gateway's surface
            if f"/{full_name}/{method.name}" in self.hidden:
                continue  # a platform power: the gateway does not route it
            rule = method.options.Extensions[annotations_pb2.http]
            for index, binding in enumerate(bindings(rule)):
                operation_id = f"{label}_{method.name}" + (f"_{index + 1}" if index else "")
                path, operation = self._operation(full_name, method, binding, label, operation_id)
                path_item = self.paths.setdefault(path, {})
                if binding.verb in path_item:
                    raise SystemExit(f"openapi: two methods bind {binding.verb.upper()} {path}")
                path_item[binding.verb] = operation
                operations += 1
        if operations:
            tag: Schema = {"name": label}
            if full_name in self.catalog.comments:
                tag["description"] = self.catalog.comments[full_name]
            self.tags.append(tag)

    def _path(self, request: str, template: str) -> tuple[str, list[Schema]]:
        parameters: list[Schema] = []

        def replace(match: re.Match[str]) -> str:
            fields = self.catalog.field_path(request, match.group(1))
            name = json_path(fields)
            owner = fields[-2].type_name if len(fields) > 1 else request
            schema = self.schemas.of_field(owner, fields[-1])
            parameter: Schema = {"name": name, "in": "path", "required": True}
            if "description" in schema:
                parameter["description"] = schema.pop("description")
            pattern = match.group(2)
            if pattern and pattern != "*":
                note = f"Matches `{pattern}` (may contain slashes)."
                parameter["description"] = " ".join(
                    filter(None, [parameter.get("description"), note])
                )
            parameter["schema"] = schema
            parameters.append(parameter)
            return "{" + name + "}"

        return TEMPLATE_VARIABLE.sub(replace, template), parameters

    def _operation(
        self,
        service: str,
        method: descriptor_pb2.MethodDescriptorProto,
        binding: Binding,
        label: str,
        operation_id: str,
    ) -> tuple[str, dict[str, Any]]:
        """The OpenAPI path and operation of one binding."""
        grpc_path = f"/{service}/{method.name}"
        comment = self.catalog.comments.get(f"{service}.{method.name}", "")
        operation: dict[str, Any] = {"tags": [label], "operationId": operation_id}
        if comment:
            operation["summary"] = _first_sentence(comment)
            operation["description"] = comment
        operation["x-grpc-method"] = grpc_path
        path, parameters = self._path(method.input_type, binding.template)
        path_fields = [
            self.catalog.field_path(method.input_type, m.group(1))
            for m in TEMPLATE_VARIABLE.finditer(binding.template)
        ]
        bound = {path[0].name for path in path_fields if len(path) == 1}
        if binding.body and binding.body != "*":
            bound.add(binding.body)
        if binding.body != "*":
            nested = {".".join(f.name for f in path) for path in path_fields}
            parameters += self._query(method.input_type, "", "", bound | nested, set())
        if parameters:
            operation["parameters"] = parameters
        if binding.body:
            operation["requestBody"] = self._request_body(method.input_type, binding, bound)
        operation["responses"] = {
            "200": self._response(method, binding.response_body),
            "default": {"$ref": "#/components/responses/Error"},
        }
        if grpc_path in self.public:
            operation["security"] = []
        if method.options.deprecated:
            operation["deprecated"] = True
        return path, operation

    def _query(
        self, message: str, proto_prefix: str, json_prefix: str, bound: set[str], seen: set[str]
    ) -> Iterator[Schema]:
        """Query parameters for every scalar leaf not bound to the path or body.

        The transcoder reads nested fields as dotted names (`filter.status=...`); cyclic
        message types stop at their first repetition.
        """
        for item in self.catalog.messages[message].field:
            proto_name = f"{proto_prefix}{item.name}"
            json_name = f"{json_prefix}{item.json_name}"
            plain = item.type_name.lstrip(".")
            if proto_name in bound or self.catalog.is_map(item):
                continue
            if item.type == FDP.TYPE_MESSAGE and plain not in QUERY_WELL_KNOWN:
                if item.label != FDP.LABEL_REPEATED and item.type_name not in seen:
                    yield from self._query(
                        item.type_name,
                        f"{proto_name}.",
                        f"{json_name}.",
                        bound,
                        seen | {message, item.type_name},
                    )
                continue
            schema = self.schemas.of_field(message, item)
            parameter: Schema = {"name": json_name, "in": "query"}
            if "description" in schema:
                parameter["description"] = schema.pop("description")
            if is_required(item) and not proto_prefix:
                parameter["required"] = True
            parameter["schema"] = schema
            yield parameter

    def _request_body(self, request: str, binding: Binding, bound: set[str]) -> Schema:
        if binding.body == "*":
            if request.lstrip(".") == HTTP_BODY:
                return _raw("The raw request body.")
            path_only = bound & {f.name for f in self.catalog.messages[request].field}
            schema = (
                self.schemas.message(request, without=path_only)
                if path_only
                else self.schemas.of_type(request)
            )
        else:
            target = self.catalog.field_path(request, binding.body)[-1]
            if target.type_name.lstrip(".") == HTTP_BODY:
                return _raw("The raw request body.")
            schema = self.schemas.of_field(request, target)
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def _response(self, method: descriptor_pb2.MethodDescriptorProto, response_body: str) -> Schema:
        output = method.output_type
        description = self.catalog.comments.get(output, "OK").split("\n\n")[0]
        if response_body:
            target = self.catalog.field_path(output, response_body)[-1]
            if target.type_name.lstrip(".") == HTTP_BODY:
                return _raw(description)
            schema = self.schemas.of_field(output, target)
        elif output.lstrip(".") == HTTP_BODY:
            return _raw("The raw response body; its content type is chosen by the service.")
        else:
            schema = self.schemas.of_type(output)
        if method.server_streaming:
            # The transcoder renders a server stream as one JSON array of its messages.
            schema = {"type": "array", "items": schema}
        return {"description": description, "content": {"application/json": {"schema": schema}}}


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.split("\n\n")[0].split())
    return re.split(r"\.\s+(?=[A-Z])", paragraph)[0].rstrip(".")


def _raw(description: str) -> Schema:
    return {"description": description, "content": {"*/*": {"schema": {}}}}


def _status_file(
    files: Sequence[descriptor_pb2.FileDescriptorProto],
) -> list[descriptor_pb2.FileDescriptorProto]:
    """google/rpc/status.proto from the installed package when the set lacks it (no comments)."""
    if any(f.name == "google/rpc/status.proto" for f in files):
        return []
    from google.rpc import status_pb2

    status = descriptor_pb2.FileDescriptorProto()
    status_pb2.DESCRIPTOR.CopyToProto(status)
    return [status]


def build_document(
    files: Sequence[descriptor_pb2.FileDescriptorProto],
    *,
    services: Collection[str] | None = None,
    public_methods: Collection[str] = (),
    hidden_methods: Collection[str] = (),
    title: str = "Keel API",
    version: str = "v1",
) -> dict[str, Any]:
    """The OpenAPI document for `services` (full names; all with http rules when None)."""
    catalog = Catalog.load([*files, *_status_file(files)])
    builder = Builder(catalog, public_methods, hidden_methods)
    chosen = [(n, s) for n, s in catalog.services if services is None or n in services]
    short_names = Counter(service.name for _, service in chosen)
    for name, service in chosen:
        # Short names read better; two packages with the same service name keep them apart.
        label = service.name if short_names[service.name] == 1 else name.replace(".", "_")
        builder.add_service(name, service, label)
    error = builder.schemas.of_type(f".{STATUS}")
    schemas = dict(sorted(builder.schemas.components.items()))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "REST/JSON surface of the Keel gateway, transcoded to gRPC. Fields use the "
                "proto3 JSON mapping: lowerCamelCase names, 64-bit integers as strings, "
                "enums by value name, timestamps as RFC 3339 strings."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{SECURITY_SCHEME: []}],
        "tags": builder.tags,
        "paths": builder.paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "An error: google.rpc.Status with ErrorInfo and RequestInfo.",
                    "content": {"application/json": {"schema": error}},
                }
            },
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from POST /v1/sessions.",
                }
            },
        },
    }


def _gateway() -> Any:
    """gateway/render.py, which names the transcoded services and the public methods."""
    spec = importlib.util.spec_from_file_location("keel_gateway_render", RENDER)
    if spec is None or spec.loader is None:
        raise SystemExit(f"openapi: cannot load {RENDER}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_json(document: dict[str, Any]) -> bytes:
    """Stable bytes for a document: same descriptors, same file."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def write(descriptor_set: Path = DESCRIPTOR_SET, out: Path = OUT) -> dict[str, Any]:
    """Build the gateway's document from `descriptor_set` into `out`; return it."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    gateway = _gateway()
    services = [name for names in gateway.SERVICES.values() for name in names]
    contract = gateway.contract_access(descriptor_set)
    document = build_document(
        files,
        services=services,
        public_methods=contract.public,
        hidden_methods=contract.platform,
    )
    data = render_json(document)
    if not out.is_file() or out.read_bytes() != data:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--descriptor-set", type=Path, default=DESCRIPTOR_SET)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    document = write(args.descriptor_set, args.out)
    operations = sum(len(item) for item in document["paths"].values())
    print(f"openapi: {args.out} ({operations} operations)")


if __name__ == "__main__":
    main()
