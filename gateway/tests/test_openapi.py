"""The OpenAPI document: structurally valid, and faithful to the http rules and proto3 JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

import openapi
import protodeps

DEMO_PROTO = """
syntax = "proto3";

package demo.v1;

import "buf/validate/validate.proto";
import "google/api/annotations.proto";
import "google/api/httpbody.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";

// Widgets on shelves.
service WidgetService {
  // Creates a widget. Twice bound.
  rpc CreateWidget(CreateWidgetRequest) returns (Widget) {
    option (google.api.http) = {
      post: "/v1/shelves/{shelf_id}/widgets"
      body: "*"
      additional_bindings {
        post: "/v1/widgets"
        body: "*"
      }
    };
  }
  // Changes a widget.
  rpc UpdateWidget(UpdateWidgetRequest) returns (Widget) {
    option (google.api.http) = {
      patch: "/v1/widgets/{widget.id}"
      body: "widget"
    };
  }
  // Lists widgets.
  rpc ListWidgets(ListWidgetsRequest) returns (ListWidgetsResponse) {
    option (google.api.http) = {
      get: "/v1/widgets"
      response_body: "widgets"
    };
  }
  // Streams a widget's file.
  rpc Download(DownloadRequest) returns (google.api.HttpBody) {
    option (google.api.http) = {get: "/v1/widgets/{id}:download"};
  }
  // Internal: no http rule.
  rpc Sync(SyncRequest) returns (SyncResponse);
}

// What a widget is.
enum Kind {
  KIND_UNSPECIFIED = 0;
  // A round one.
  KIND_ROUND = 1;
}

// A widget.
message Widget {
  // Server-assigned id.
  string id = 1 [(buf.validate.field).string.uuid = true];
  string name = 2 [
    (buf.validate.field).string.min_len = 1,
    (buf.validate.field).string.max_len = 20
  ];
  int64 count = 3;
  uint32 size = 4 [
    (buf.validate.field).uint32.gte = 1,
    (buf.validate.field).uint32.lte = 10
  ];
  Kind kind = 5;
  map<string, string> labels = 6;
  repeated string tags = 7 [(buf.validate.field).repeated.max_items = 5];
  // When it was made. Output only.
  google.protobuf.Timestamp create_time = 8;
  google.protobuf.Duration ttl = 9;
  bytes payload = 10;
  google.protobuf.Struct attrs = 11;
  google.protobuf.Any extra = 12;
  string owner_email = 13 [
    (buf.validate.field).string.email = true,
    (buf.validate.field).ignore = IGNORE_IF_ZERO_VALUE
  ];
  oneof source {
    option (buf.validate.oneof).required = true;
    string url = 14;
    string note = 15;
  }
}

message CreateWidgetRequest {
  string shelf_id = 1;
  Widget widget = 2 [(buf.validate.field).required = true];
  string request_id = 3;
}

message UpdateWidgetRequest {
  Widget widget = 1;
  google.protobuf.FieldMask update_mask = 2;
}

message Filter {
  Kind kind = 1;
  google.protobuf.Timestamp created_after = 2;
}

message ListWidgetsRequest {
  int32 page_size = 1 [
    (buf.validate.field).int32.gte = 0,
    (buf.validate.field).int32.lte = 100
  ];
  Filter filter = 2;
  repeated string tags = 3;
}

message ListWidgetsResponse {
  repeated Widget widgets = 1;
  string next_page_token = 2;
}

message DownloadRequest {
  string id = 1;
}

message SyncRequest {}

message SyncResponse {}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("protos")
    (root / "demo" / "v1").mkdir(parents=True)
    (root / "demo" / "v1" / "widget.proto").write_text(DEMO_PROTO)
    out = root / "demo.pb"
    assert (protodeps.OUT / "buf" / "validate").is_dir(), "run `make gen` first"
    protodeps.protoc(
        f"-I{root}",
        f"-I{protodeps.OUT}",
        f"--descriptor_set_out={out}",
        "--include_imports",
        "--include_source_info",
        "demo/v1/widget.proto",
    )
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    return openapi.build_document(files, public_methods={"/demo.v1.WidgetService/ListWidgets"})


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def test_demo_document_validates(demo: dict[str, Any]) -> None:
    validate(demo)


def test_every_binding_is_an_operation_and_internal_methods_are_left_out(
    demo: dict[str, Any],
) -> None:
    operations = {
        (verb, path): op["operationId"]
        for path, item in demo["paths"].items()
        for verb, op in item.items()
    }
    assert operations == {
        ("post", "/v1/shelves/{shelfId}/widgets"): "WidgetService_CreateWidget",
        ("post", "/v1/widgets"): "WidgetService_CreateWidget_2",
        ("patch", "/v1/widgets/{widget.id}"): "WidgetService_UpdateWidget",
        ("get", "/v1/widgets"): "WidgetService_ListWidgets",
        ("get", "/v1/widgets/{id}:download"): "WidgetService_Download",
    }
    assert "demo.v1.SyncRequest" not in demo["components"]["schemas"]
    assert demo["tags"] == [{"name": "WidgetService", "description": "Widgets on shelves."}]


def test_body_star_leaves_path_parameters_out_of_the_body(demo: dict[str, Any]) -> None:
    op = demo["paths"]["/v1/shelves/{shelfId}/widgets"]["post"]
    assert [(p["name"], p["in"], p["required"]) for p in op["parameters"]] == [
        ("shelfId", "path", True)
    ]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert list(body["properties"]) == ["widget", "requestId"]
    assert body["required"] == ["widget"]
    assert op["description"] == "Creates a widget. Twice bound."
    other = demo["paths"]["/v1/widgets"]["post"]["requestBody"]["content"]["application/json"]
    assert other["schema"] == {"$ref": "#/components/schemas/demo.v1.CreateWidgetRequest"}


def test_body_field_and_the_rest_as_query(demo: dict[str, Any]) -> None:
    op = demo["paths"]["/v1/widgets/{widget.id}"]["patch"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["widget.id"]["in"] == "path"
    assert params["widget.id"]["schema"]["format"] == "uuid"
    assert params["updateMask"]["in"] == "query"
    assert params["updateMask"]["schema"]["type"] == "string"
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] == "#/components/schemas/demo.v1.Widget"


def test_get_query_parameters_response_body_and_public_security(demo: dict[str, Any]) -> None:
    op = demo["paths"]["/v1/widgets"]["get"]
    params = {p["name"]: p["schema"] for p in op["parameters"]}
    assert params["pageSize"] == {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 100,
    }
    assert params["filter.kind"] == {"$ref": "#/components/schemas/demo.v1.Kind"}
    assert params["filter.createdAfter"] == {"type": "string", "format": "date-time"}
    assert params["tags"] == {"type": "array", "items": {"type": "string"}}
    assert "requestBody" not in op
    response = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert response == {"type": "array", "items": {"$ref": "#/components/schemas/demo.v1.Widget"}}
    assert op["responses"]["default"] == {"$ref": "#/components/responses/Error"}
    assert op["security"] == []
    assert "security" not in demo["paths"]["/v1/widgets"]["post"]
    assert demo["security"] == [{"bearerAuth": []}]


def test_http_body_is_raw_content(demo: dict[str, Any]) -> None:
    op = demo["paths"]["/v1/widgets/{id}:download"]["get"]
    assert list(op["responses"]["200"]["content"]) == ["*/*"]


def test_proto3_json_mapping_and_validation_rules(demo: dict[str, Any]) -> None:
    widget = _schema(demo, "demo.v1.Widget")
    props = widget["properties"]
    assert widget["description"] == "A widget."
    assert props["id"] == {"description": "Server-assigned id.", "type": "string", "format": "uuid"}
    assert props["name"] == {"type": "string", "minLength": 1, "maxLength": 20}
    assert props["count"] == {"type": "string", "format": "int64"}
    assert props["size"]["minimum"] == 1 and props["size"]["maximum"] == 10
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "maxItems": 5}
    assert props["createTime"]["format"] == "date-time" and props["createTime"]["readOnly"]
    assert props["ttl"]["type"] == "string"
    assert props["payload"]["contentEncoding"] == "base64"
    assert props["attrs"]["type"] == "object"
    assert props["extra"]["required"] == ["@type"]
    assert props["ownerEmail"]["format"] == "email"
    # uuid and min_len 1 on fields without presence reject their absence; email with ignore
    # does not.
    assert widget["required"] == ["id", "name"]
    assert widget["x-oneof"] == {"source": ["url", "note"]}
    assert widget["allOf"] == [{"oneOf": [{"required": ["url"]}, {"required": ["note"]}]}]
    kind = _schema(demo, "demo.v1.Kind")
    assert kind["enum"] == ["KIND_UNSPECIFIED", "KIND_ROUND"]
    assert "`KIND_ROUND`: A round one." in kind["description"]


def test_error_schema_is_google_rpc_status(demo: dict[str, Any]) -> None:
    error = demo["components"]["responses"]["Error"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/google.rpc.Status"}
    status = _schema(demo, "google.rpc.Status")
    assert list(status["properties"]) == ["code", "message", "details"]


@pytest.fixture(scope="module")
def gateway_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert openapi.DESCRIPTOR_SET.is_file(), "run `make gen` first"
    out: Path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    return openapi.write(openapi.DESCRIPTOR_SET, out)


def test_gateway_document_validates(gateway_document: dict[str, Any]) -> None:
    validate(gateway_document)


def test_public_operations_are_exactly_the_gateways_public_routes(
    gateway_document: dict[str, Any],
) -> None:
    sign_up = gateway_document["paths"]["/v1/organizations"]["post"]
    assert sign_up["operationId"] == "OrganizationService_CreateOrganization"
    assert sign_up["security"] == []
    public = {
        (verb.upper(), path): op["x-grpc-method"]
        for path, item in gateway_document["paths"].items()
        for verb, op in item.items()
        if op.get("security") == []
    }
    # What the document calls public is what jwt_authn lets through without a token.
    gateway = openapi._gateway()
    contract = gateway.contract_access()
    assert set(public.values()) == contract.public
    assert set(public) == contract.public_rest


def test_document_bytes_are_deterministic(gateway_document: dict[str, Any]) -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(openapi.DESCRIPTOR_SET.read_bytes()).file
    gateway = openapi._gateway()
    services = [name for names in gateway.SERVICES.values() for name in names]
    contract = gateway.contract_access()
    again = openapi.build_document(
        files, services=services, public_methods=contract.public, hidden_methods=contract.platform
    )
    assert openapi.render_json(again) == openapi.render_json(gateway_document)


def test_platform_powers_are_not_in_the_public_document(gateway_document: dict[str, Any]) -> None:
    methods = {
        op["x-grpc-method"] for item in gateway_document["paths"].values() for op in item.values()
    }
    assert "/keel.billing.v1.PlanService/ListPlans" in methods
    assert "/keel.billing.v1.PlanService/CreatePlan" not in methods
    assert "/keel.billing.v1.PlanService/ArchivePlan" not in methods
