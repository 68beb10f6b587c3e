"""Render the Envoy gateway configuration (JSON, which Envoy reads as YAML) for one stack.

The gateway transcodes REST/JSON to gRPC from the descriptor set built by `make gen`,
authenticates callers with identity's JWKS (`jwt_authn`), rate-limits the public entry
points, and answers every rejection of its own with a JSON `google.rpc.Status`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any, Literal, NamedTuple

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from keel_runtime.access import access_of

HERE = Path(__file__).resolve().parent
DESCRIPTOR_SET = HERE / "build" / "keel.pb"
OPENAPI_DOCUMENT = HERE / "build" / "openapi.json"  # written by `make gen` (tools/openapi.py)
DOCS_PAGE = HERE / "docs.html"

# Every external gRPC service the gateway transcodes, by the cluster that serves it.
SERVICES: dict[str, list[str]] = {
    "identity": [
        "keel.identity.v1.OrganizationService",
        "keel.identity.v1.UserService",
        "keel.identity.v1.AuthService",
        "keel.identity.v1.ApiKeyService",
        "keel.identity.v1.AuditService",
    ],
    "ledger": ["keel.ledger.v1.AccountService", "keel.ledger.v1.TransactionService"],
    "items": ["keel.items.v1.ItemService", "keel.items.v1.TagService"],
    "billing": [
        "keel.billing.v1.PlanService",
        "keel.billing.v1.SubscriptionService",
        "keel.billing.v1.UsageService",
        "keel.billing.v1.InvoiceService",
        "keel.billing.v1.WebhookService",
        "keel.billing.v1.BillingOverviewService",
    ],
}

# Files Envoy answers itself (direct_response): path -> (file, content type). Envoy reads
# them when it loads the config, so a regenerated document needs a gateway restart.
STATIC_FILES = {
    "/openapi.json": (OPENAPI_DOCUMENT, "application/json"),
    "/docs": (DOCS_PAGE, "text/html; charset=utf-8"),
}
# How service clusters find their endpoints: STATIC takes IP addresses (one machine);
# STRICT_DNS resolves a name to every address it has (a headless Service: one per pod).
ClusterType = Literal["STATIC", "STRICT_DNS"]
# Only reads reach the static files; other methods fall through to the usual rejections.
_GET_OR_HEAD = {"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}
# The docs page only talks to its own origin; nothing is loaded from elsewhere.
DOCS_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Envoy's default cap on a direct response body is 4 KiB; the document is far larger.
MAX_STATIC_BYTES = 8 << 20
# Token-bucket limits (requests per minute, per gateway) for the public entry points.
RATE_LIMITS = {
    "/keel.identity.v1.OrganizationService/CreateOrganization": 60,
    "/keel.identity.v1.AuthService/Login": 300,
    "/keel.identity.v1.AuthService/RefreshToken": 300,
    "/keel.identity.v1.AuthService/ExchangeApiKey": 300,
}
MAX_REQUEST_BYTES = 1 << 20
# Services take at most 8 KiB of metadata before refusing some requests at random (gRPC's
# soft limit). Everything the gateway forwards must fit: the URL travels twice (as
# x-envoy-original-path), and the token travels on for the service to verify again.
MAX_URL_BYTES = 2048
MAX_HEADER_BYTES = 4096
# Envoy's codec counts the request line as a header: above this it answers 431 on its own,
# before our URL check could say 414.
CODEC_HEADER_KB = 96
# Request ids the services accept as they are (keel_runtime.context); any other is replaced
# at the edge by a fresh one, so every hop logs the same value.
SAFE_REQUEST_ID = r"[A-Za-z0-9._:\-]{1,128}"
# The JSON bodies the transcoder reads; any other declared type is 415. Form encoding is
# what `curl -d` declares by default: it stays accepted (and parsed as JSON) so one-line
# curl examples keep working.
JSON_CONTENT_TYPE = (
    r"(?i)(application/([a-z0-9.+-]*\+)?json|application/x-www-form-urlencoded)(\s*;.*)?"
)
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Browsers on a developer's machine (any port of localhost) may call the local gateway;
# a deployment names its own origins (render_config's `cors_origins`).
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"
NO_ROUTE_CLUSTER = "keel_no_route"
CORS_FILTER = "envoy.extensions.filters.http.cors.v3.Cors"
CORS_HEADERS = "authorization, content-type, x-request-id, traceparent, tracestate"
# The real HTTP method, kept for the access log: the transcoder turns every call into POST.
ORIGINAL_METHOD_HEADER = "x-keel-original-method"
# The first request `make run` suggests: a public sign-up through the gateway.
FIRST_CURL = (
    'curl -s {gateway}/v1/organizations -d \'{{"displayName":"Acme",'
    '"ownerEmail":"owner@acme.test","ownerPassword":"correct horse battery"}}\''
)
# The organization a platform caller acts for (keel_runtime.context): services believe it
# only from a service or operator certificate; the gateway drops it anyway.
ACTING_ORG_HEADER = "x-keel-org"
# The gateway's own health: 200 only while every service cluster has a healthy host
# (Envoy's active gRPC health checks decide), else 503.
HEALTH_PATH = "/healthz"
# Native gRPC for one service through the gateway: /ops/<service>/<grpc path>. A
# reflection stream names the symbol it wants only inside its messages, so one path
# cannot reach four services' reflection; a prefix per service can, and `buf curl
# --reflect` asks the reflection service under the prefix of the URL it is given.
OPS_PREFIX = "/ops/"
# Verified access tokens Envoy keeps (per worker), as the services keep theirs
# (keel_runtime.tokens); a token is at most 4 KiB, so this bounds the cache at 4 MiB.
JWT_CACHE_SIZE = 1000

# Envoy's own spans (see Tracing): the cluster its tracer exports to, the service name they
# carry, and the attribute naming the request id (keel_runtime.tracing.REQUEST_ID), by which
# `python -m keel_runtime.traces show <request id>` finds a trace.
TRACE_CLUSTER = "otlp_collector"
TRACE_SERVICE_NAME = "gateway"
REQUEST_ID_ATTRIBUTE = "keel.request_id"
# Envoy exports its buffered spans every TRACE_FLUSH_MS, or at once past TRACE_FLUSH_SPANS
# (its defaults, 5 s and 5 spans, are slow to show a local trace and chatty under load).
TRACE_FLUSH_MS = 500
TRACE_FLUSH_SPANS = 200
# spdlog flags: %j is the message escaped for JSON.
APPLICATION_LOG_FORMAT = {
    "time": "%Y-%m-%dT%T.%eZ",
    "level": "%l",
    "logger": "%n",
    "source": "%s:%#",
    "message": "%j",
}

GRPC_CODE_BY_HTTP = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    405: 12,
    413: 8,
    414: 8,
    415: 3,
    429: 8,
    431: 8,
    503: 14,
    504: 4,
}
REASON_BY_HTTP = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _typed(type_name: str, **fields: Any) -> dict[str, Any]:
    return {"@type": f"type.googleapis.com/{type_name}", **fields}


# Upstream connection failures say how the socket died; callers get a plain sentence.
FIXED_MESSAGES = {503: "service unavailable, retry later", 504: "upstream timed out"}


def _status_body(http_status: int, message: str | None = None) -> dict[str, Any]:
    """A google.rpc.Status body for one of Envoy's own (local) replies."""
    if message is None:
        message = FIXED_MESSAGES.get(http_status, "%LOCAL_REPLY_BODY%")
    return {
        "json_format": {
            "code": GRPC_CODE_BY_HTTP.get(http_status, 2),
            "message": message,
            "details": [
                _typed(
                    "google.rpc.ErrorInfo",
                    reason=REASON_BY_HTTP.get(http_status, "UNKNOWN"),
                    domain="gateway.keel",
                ),
                _typed("google.rpc.RequestInfo", requestId="%REQ(X-REQUEST-ID)%"),
            ],
        },
        "content_type": "application/json",
    }


def _local_reply_config() -> dict[str, Any]:
    mappers = [
        {
            "filter": {
                "status_code_filter": {
                    "comparison": {
                        "op": "EQ",
                        "value": {"default_value": code, "runtime_key": f"keel.local_reply.{code}"},
                    }
                }
            },
            "body_format_override": _status_body(code),
        }
        for code in sorted(GRPC_CODE_BY_HTTP)
    ]
    # A direct response is a local reply too: the static files must leave as they are,
    # not wrapped into a Status like Envoy's own rejections.
    static_paths = "|".join(re.escape(path) for path in STATIC_FILES)
    static_path = {
        "name": ":path",
        "string_match": {"safe_regex": {"regex": rf"({static_paths})(\?.*)?"}},
    }
    static = {
        "filter": {
            "and_filter": {
                "filters": [
                    {"header_filter": {"header": static_path}},
                    {"header_filter": {"header": _GET_OR_HEAD}},
                ]
            }
        },
        "body_format_override": {"text_format_source": {"inline_string": "%LOCAL_REPLY_BODY%"}},
    }
    # jwt_authn answers a token for another audience with 403; for the caller it is an
    # invalid token like any other (RFC 6750), so it becomes 401 UNAUTHENTICATED.
    wrong_audience = {
        "filter": {
            "extension_filter": {
                "name": "envoy.access_loggers.extension_filters.cel",
                "typed_config": _typed(
                    "envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                    expression=(
                        "response.code == 403 && "
                        "response.code_details.startsWith('jwt_authn_access_denied')"
                    ),
                ),
            }
        },
        "status_code": 401,
        "body_format_override": _status_body(401),
    }
    # The health check filter answers itself: a small JSON document when healthy.
    health_path = {"name": ":path", "string_match": {"exact": HEALTH_PATH}}
    healthy = {
        "filter": {
            "and_filter": {
                "filters": [
                    {"header_filter": {"header": health_path}},
                    _status_filter(200),
                ]
            }
        },
        "body_format_override": {
            "json_format": {"status": "SERVING"},
            "content_type": "application/json",
        },
    }
    unhealthy = {
        "filter": {
            "and_filter": {
                "filters": [
                    {"header_filter": {"header": health_path}},
                    _status_filter(503),
                ]
            }
        },
        "body_format_override": _status_body(
            503, "not every service has a healthy host behind the gateway"
        ),
    }
    # Transcoded upstream replies already carry a JSON Status; only Envoy's own replies
    # (no upstream) reach these mappers, and everything else gets a generic one.
    return {
        "mappers": [static, healthy, unhealthy, wrong_audience, *mappers],
        "body_format": _status_body(500),
    }


def _status_filter(code: int) -> dict[str, Any]:
    return {
        "status_code_filter": {
            "comparison": {
                "op": "EQ",
                "value": {"default_value": code, "runtime_key": f"keel.local_reply.{code}"},
            }
        }
    }


def _health_check(clusters: Sequence[str]) -> dict[str, Any]:
    """GET /healthz, answered by Envoy from its clusters' health (never forwarded)."""
    return {
        "name": "envoy.filters.http.health_check",
        "typed_config": _typed(
            "envoy.extensions.filters.http.health_check.v3.HealthCheck",
            pass_through_mode=False,
            headers=[{"name": ":path", "string_match": {"exact": HEALTH_PATH}}],
            # One healthy host is enough: with one host per cluster here, all of them.
            cluster_min_healthy_percentages={name: {"value": 1.0} for name in sorted(clusters)},
        ),
    }


class UpstreamTls(NamedTuple):
    """Files of the gateway's workload certificate: Envoy calls every service over mutual TLS."""

    cert: str
    key: str
    ca: str


class Tracing(NamedTuple):
    """Envoy's spans: every request through the gateway gets a server span, exported by
    OTLP/gRPC to a collector (``host``:``port``), whose context Envoy passes on in the W3C
    ``traceparent`` header (the services continue it, keel_runtime.tracing).

    A caller's valid ``traceparent`` is continued, its sampled flag included; of the other
    requests ``sampling_percent`` are sampled (by trace id), and the services follow the
    gateway's decision (their SDK samples by parent). A request not sampled still carries a
    trace id, so its log lines correlate all the same. (A malformed ``traceparent`` makes
    Envoy record no span at all: the service then starts the trace.)
    """

    host: str
    port: int
    sampling_percent: float = 100.0
    cluster_type: ClusterType = "STATIC"


def _sampler(percent: float) -> dict[str, Any]:
    """The caller's decision when it sent one, else ``percent`` of trace ids (0.01 steps).

    A sampler, not the connection manager's random_sampling: that one draws from the
    request id, and never samples a caller's id that is not a UUID (see the request id
    extension's use_request_id_for_trace_sampling).
    """
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"sampling_percent {percent} is not in [0, 100]")
    ratio = _typed(
        "envoy.extensions.tracers.opentelemetry.samplers.v3.TraceIdRatioBasedSamplerConfig",
        sampling_percentage={"numerator": round(percent * 100), "denominator": "TEN_THOUSAND"},
    )
    return {
        "name": "envoy.tracers.opentelemetry.samplers.parent_based",
        "typed_config": _typed(
            "envoy.extensions.tracers.opentelemetry.samplers.v3.ParentBasedSamplerConfig",
            wrapped_sampler={
                "name": "envoy.tracers.opentelemetry.samplers.trace_id_ratio_based",
                "typed_config": ratio,
            },
        ),
    }


def _tracing(tracing: Tracing) -> dict[str, Any]:
    """The connection manager's tracing: the OpenTelemetry tracer, its sampler, the span's
    name and request id."""
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": _typed(
                "envoy.config.trace.v3.OpenTelemetryConfig",
                grpc_service={"envoy_grpc": {"cluster_name": TRACE_CLUSTER}, "timeout": "5s"},
                service_name=TRACE_SERVICE_NAME,
                sampler=_sampler(tracing.sampling_percent),
            ),
        },
        # Formatted when the span ends, after transcoding: the gRPC method a call became
        # (a bounded set of names), or the path Envoy answered itself; the method the
        # caller used, not the transcoder's POST.
        "operation": f"%REQ({ORIGINAL_METHOD_HEADER.upper()}?:METHOD)% %PATH(NQ:PATH)%",
        # Also read at the end: the id the sanitizer settled on, as every hop logs it.
        "custom_tags": [{"tag": REQUEST_ID_ATTRIBUTE, "request_header": {"name": "x-request-id"}}],
    }


def _trace_collector(tracing: Tracing, dns_refresh_rate: str) -> dict[str, Any]:
    """The collector's cluster: plain HTTP/2 (OTLP/gRPC), no gRPC health checks (a
    collector need not serve them)."""
    cluster = _cluster(
        TRACE_CLUSTER,
        tracing.host,
        tracing.port,
        grpc=False,
        cluster_type=tracing.cluster_type,
        dns_refresh_rate=dns_refresh_rate,
    )
    cluster["typed_extension_protocol_options"] = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": _typed(
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            explicit_http_config={"http2_protocol_options": {}},
        )
    }
    return cluster


def _upstream_tls(service: str, tls: UpstreamTls) -> dict[str, Any]:
    """Present the gateway's certificate; accept only `spiffe://keel/<service>` behind it."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": _typed(
            "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            common_tls_context={
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": tls.cert},
                        "private_key": {"filename": tls.key},
                    }
                ],
                "validation_context": {
                    "trusted_ca": {"filename": tls.ca},
                    "match_typed_subject_alt_names": [
                        {"san_type": "URI", "matcher": {"exact": f"spiffe://keel/{service}"}}
                    ],
                },
                "alpn_protocols": ["h2"],
            },
        ),
    }


def _cluster(
    name: str,
    host: str,
    port: int,
    *,
    grpc: bool,
    cluster_type: ClusterType = "STATIC",
    dns_refresh_rate: str = "5s",
    tls: UpstreamTls | None = None,
) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": cluster_type,
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": host, "port_value": port}}
                            }
                        }
                    ]
                }
            ],
        },
    }
    if grpc:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": _typed(
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                explicit_http_config={"http2_protocol_options": {}},
            )
        }
        cluster["health_checks"] = [
            {
                "timeout": "1s",
                "interval": "5s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {},
            }
        ]
        cluster["outlier_detection"] = {"consecutive_5xx": 5, "base_ejection_time": "10s"}
        cluster["common_lb_config"] = {"healthy_panic_threshold": {"value": 100}}
        if tls is not None:
            # Health checks ride the same transport socket, so they speak mTLS too.
            cluster["transport_socket"] = _upstream_tls(name, tls)
    if cluster_type == "STRICT_DNS":
        # Every A record is an endpoint, so health checks and outlier detection see each
        # pod; re-resolved often so new pods get traffic quickly.
        cluster["dns_lookup_family"] = "V4_ONLY"
        cluster["dns_refresh_rate"] = dns_refresh_rate
        cluster["respect_dns_ttl"] = True
    return cluster


# -- the REST surface: which methods each path template takes ------------------------------


def _bindings(files: descriptor_pb2.FileDescriptorSet) -> list[tuple[str, str, str, str]]:
    """(HTTP method, path template, body selector, request type) of every transcoded RPC."""
    wanted = {name for names in SERVICES.values() for name in names}
    found = []
    for file in files.file:
        for service in file.service:
            if f"{file.package}.{service.name}" not in wanted:
                continue
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                for binding in (rule, *rule.additional_bindings):
                    kind = binding.WhichOneof("pattern")
                    if kind == "custom":
                        verb, template = binding.custom.kind, binding.custom.path
                    elif kind is not None:
                        verb, template = kind.upper(), getattr(binding, kind)
                    else:
                        continue
                    found.append((verb, template, binding.body, method.input_type.lstrip(".")))
    return found


def _read(descriptor_set: Path) -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())


class ContractAccess(NamedTuple):
    """What the contracts declare (``keel.auth.v1.access``) that the edge must know.

    (A NamedTuple: the devstack loads this file without registering it as a module, which
    dataclasses need.)
    """

    public: frozenset[str] = frozenset()
    """Methods callable without a token (sign-up, login, refresh, key exchange, JWKS)."""
    public_rest: frozenset[tuple[str, str]] = frozenset()
    """Their REST spellings, as jwt_authn sees them (it runs before transcoding)."""
    platform: frozenset[str] = frozenset()
    """Methods of the platform alone: the public listener does not route them at all."""


def contract_access(descriptor_set: Path = DESCRIPTOR_SET) -> ContractAccess:
    """Public and platform methods of every Keel service, read from the descriptor set."""
    public: set[str] = set()
    public_rest: set[tuple[str, str]] = set()
    platform: set[str] = set()
    for file in _read(descriptor_set).file:
        for service in file.service:
            for method in service.method:
                declared = access_of(method.options)
                if declared is None:
                    continue
                full = f"/{file.package}.{service.name}/{method.name}"
                if declared.platform:
                    platform.add(full)
                if declared.public:
                    public.add(full)
                    rule = method.options.Extensions[annotations_pb2.http]
                    kind = rule.WhichOneof("pattern")
                    if kind is not None and kind != "custom":
                        public_rest.add((kind.upper(), getattr(rule, kind)))
    return ContractAccess(frozenset(public), frozenset(public_rest), frozenset(platform))


def rest_surface(descriptor_set: Path) -> dict[str, set[str]]:
    """Every REST path template the transcoder serves (of SERVICES) -> its HTTP methods."""
    surface: dict[str, set[str]] = {}
    for verb, template, _, _ in _bindings(_read(descriptor_set)):
        surface.setdefault(template, set()).add(verb)
    return surface


_MAP_VALUE_TYPES = {
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_ENUM: "enum",
}


def scalar_map_bodies(descriptor_set: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """REST calls (method, template) whose JSON body holds a map with scalar values, and
    those maps' JSON field names -> proto type (e.g. "metadata" -> "map<string, string>")."""
    files = _read(descriptor_set)
    messages: dict[str, descriptor_pb2.DescriptorProto] = {}

    def collect(prefix: str, found: Sequence[descriptor_pb2.DescriptorProto]) -> None:
        for message in found:
            messages[f"{prefix}.{message.name}"] = message
            collect(f"{prefix}.{message.name}", message.nested_type)

    for file in files.file:
        collect(file.package, file.message_type)
    fields: dict[str, str] = {}

    def has_scalar_map(name: str, seen: frozenset[str] = frozenset()) -> bool:
        found = False
        for field in messages[name].field:
            if field.type != field.TYPE_MESSAGE or field.type_name.lstrip(".") in seen:
                continue
            target = field.type_name.lstrip(".")
            entry = messages[target]
            if entry.options.map_entry:
                value = entry.field[1]
                if value.type != field.TYPE_MESSAGE:
                    kind = _MAP_VALUE_TYPES.get(value.type, "number")
                    fields[field.json_name] = fields[field.name] = f"map<string, {kind}>"
                    found = True
            elif has_scalar_map(target, seen | {name}):
                found = True
        return found

    routes = []
    for verb, template, body, request in _bindings(files):
        if not body:
            continue
        body_type = request
        if body != "*":
            selected = next(f for f in messages[request].field if f.name == body)
            if selected.type != selected.TYPE_MESSAGE:
                continue
            body_type = selected.type_name.lstrip(".")
        if has_scalar_map(body_type):
            routes.append((verb, template))
    return routes, fields


def _segments(template: str) -> tuple[tuple[str | None, ...], str]:
    """A template's path segments (None for a variable) and its custom verb ("" if none)."""
    path, verb = template, ""
    if ":" in template.rsplit("/", 1)[-1].rsplit("}", 1)[-1]:
        path, _, verb = template.rpartition(":")
    segments: list[str | None] = []
    for segment in path.strip("/").split("/"):
        if "**" in segment:
            raise ValueError(f"{template}: '**' templates are not supported by the gateway")
        segments.append(None if segment.startswith("{") or segment == "*" else segment)
    return tuple(segments), verb


def _template_regex(template: str) -> str:
    """RE2 for the paths a template matches; a variable never spans '/' nor ':' (verbs)."""
    segments, verb = _segments(template)
    parts = ["[^/:]+" if segment is None else re.escape(segment) for segment in segments]
    return "/" + "/".join(parts) + (f":{re.escape(verb)}" if verb else "")


def _overlaps(a: str, b: str) -> bool:
    """Whether some path matches both templates."""
    (sa, va), (sb, vb) = _segments(a), _segments(b)
    if va != vb or len(sa) != len(sb):
        return False
    return all(x is None or y is None or x == y for x, y in zip(sa, sb, strict=True))


def allowed_methods(surface: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """Path template -> the methods a path it matches allows, most literal templates first.

    `/v1/users/me` also matches `/v1/users/{userId}`: its route comes first and allows the
    methods of both; the general template's route only sees the other paths.
    """

    def literals(template: str) -> int:
        return sum(segment is not None for segment in _segments(template)[0])

    ordered = sorted(surface, key=lambda t: (-literals(t), t))
    return {
        template: sorted(
            set().union(
                *(
                    surface[other]
                    for other in surface
                    if _overlaps(template, other) and literals(other) <= literals(template)
                )
            )
        )
        for template in ordered
    }


_TRANSCODER_OFF = {
    "envoy.filters.http.grpc_json_transcoder": _typed(
        "envoy.config.route.v3.FilterConfig", disabled=True
    )
}


def _method_not_allowed_routes(surface: Mapping[str, set[str]]) -> list[dict[str, Any]]:
    """405 with `Allow` for a known path asked with a method it does not take."""
    routes = []
    for template, methods in allowed_methods(surface).items():
        allow = ", ".join(methods)
        routes.append(
            {
                "match": {
                    "safe_regex": {"regex": _template_regex(template)},
                    "headers": [
                        {
                            "name": ":method",
                            "string_match": {"safe_regex": {"regex": "|".join(methods)}},
                            "invert_match": True,
                        },
                        # A CORS preflight is the CORS filter's to answer.
                        {"name": "access-control-request-method", "present_match": False},
                    ],
                },
                "direct_response": {
                    "status": 405,
                    "body": {"inline_string": f"method not allowed here; allowed: {allow}"},
                },
                "response_headers_to_add": [
                    {
                        "header": {"key": "allow", "value": allow},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    }
                ],
                # The transcoder would answer 404 before the router sees this route.
                "typed_per_filter_config": _TRANSCODER_OFF,
            }
        )
    return routes


def _unsupported_media_type_route() -> dict[str, Any]:
    """415 for a REST body declared as anything but JSON (the transcoder reads all as JSON)."""
    return {
        "match": {
            "prefix": "/v1/",
            "headers": [
                {
                    "name": ":method",
                    "string_match": {"safe_regex": {"regex": "|".join(BODY_METHODS)}},
                },
                {"name": "content-type", "present_match": True},
                {
                    "name": "content-type",
                    "string_match": {"safe_regex": {"regex": JSON_CONTENT_TYPE}},
                    "invert_match": True,
                },
            ],
        },
        "direct_response": {
            "status": 415,
            "body": {
                "inline_string": "request bodies must be JSON (content-type: application/json)"
            },
        },
        "typed_per_filter_config": _TRANSCODER_OFF,
    }


def _local_rate_limit(per_minute: int, prefix: str) -> dict[str, Any]:
    return _typed(
        "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        stat_prefix=prefix,
        token_bucket={
            "max_tokens": per_minute,
            "tokens_per_fill": per_minute,
            "fill_interval": "60s",
        },
        filter_enabled={
            "default_value": {"numerator": 100, "denominator": "HUNDRED"},
            "runtime_key": f"{prefix}_enabled",
        },
        filter_enforced={
            "default_value": {"numerator": 100, "denominator": "HUNDRED"},
            "runtime_key": f"{prefix}_enforced",
        },
    )


def static_files(files_dir: PurePath | None = None) -> dict[str, tuple[PurePath, str]]:
    """STATIC_FILES, or the same file names inside `files_dir`."""
    if files_dir is None:
        return dict(STATIC_FILES)
    return {
        path: (files_dir / source.name, content_type)
        for path, (source, content_type) in STATIC_FILES.items()
    }


def _static_route(
    path: str, source: PurePath, content_type: str, *, check: bool = True
) -> dict[str, Any]:
    """A route Envoy answers from a file, untouched by the transcoder.

    With `check` the file must exist here (else a 503 says to build it); without, it lives
    where Envoy runs (an image) and is named as is.
    """
    if not check:
        response: dict[str, Any] = {"status": 200, "body": {"filename": str(source)}}
    elif isinstance(source, Path) and source.is_file():
        size = source.stat().st_size
        if size > MAX_STATIC_BYTES:
            raise ValueError(
                f"{source} is {size} bytes; the gateway serves at most {MAX_STATIC_BYTES}"
            )
        response = {"status": 200, "body": {"filename": str(source)}}
    else:
        # Envoy refuses a config naming a missing file; say what to run instead.
        message = f"{source.name} is not built: run `make gen`"
        body = json.dumps({"code": 14, "message": message, "details": []})
        response = {"status": 503, "body": {"inline_string": body}}
        content_type = "application/json"
    headers = {"content-type": content_type, "cache-control": "no-cache"}
    headers["x-content-type-options"] = "nosniff"
    if content_type.startswith("text/html"):
        headers["content-security-policy"] = DOCS_CSP
    return {
        "match": {"path": path, "headers": [_GET_OR_HEAD]},
        "direct_response": response,
        "response_headers_to_add": [
            {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for key, value in headers.items()
        ],
        # reject_unknown_method would answer 404 before the router sees the route.
        "typed_per_filter_config": {
            "envoy.filters.http.grpc_json_transcoder": _typed(
                "envoy.config.route.v3.FilterConfig", disabled=True
            )
        },
    }


def _unrouted(path: str) -> dict[str, Any]:
    """A path the gateway answers 404 itself (JSON for REST, UNIMPLEMENTED for gRPC)."""
    return {
        "match": {"path": path},
        "direct_response": {
            "status": 404,
            "body": {"inline_string": "this method is not served by the public gateway"},
        },
    }


def _routes(
    clusters: Mapping[str, tuple[str, int]],
    files_dir: PurePath | None = None,
    surface: Mapping[str, set[str]] | None = None,
    platform: frozenset[str] = frozenset(),
    rate_limit_scale: float = 1.0,
) -> list[dict[str, Any]]:
    # First: platform powers are not routed at all, as native gRPC, under /ops/<service>/,
    # or as REST (the transcoder rewrites the path to the gRPC one, matched again here).
    routes = [
        _unrouted(prefix + method[1:])
        for prefix in ["/", *(f"{OPS_PREFIX}{cluster}/" for cluster in clusters)]
        for method in sorted(platform)
    ]
    routes += [
        _static_route(path, source, content_type, check=files_dir is None)
        for path, (source, content_type) in static_files(files_dir).items()
    ]
    for path, base_per_minute in RATE_LIMITS.items():
        per_minute = max(1, round(base_per_minute * rate_limit_scale))
        service = path.split("/")[1]
        cluster = next((name for name, names in SERVICES.items() if service in names), "")
        if cluster not in clusters:
            continue
        routes.append(
            {
                "match": {"path": path},
                "route": {"cluster": cluster, "timeout": "10s"},
                "typed_per_filter_config": {
                    "envoy.filters.http.local_ratelimit": _local_rate_limit(
                        per_minute, path.rsplit("/", 1)[1].lower()
                    )
                },
            }
        )
    for cluster in clusters:
        names = SERVICES[cluster]
        package = names[0].rsplit(".", 1)[0]
        routes.append(
            {
                # Reads are idempotent, so a failed attempt may be retried elsewhere.
                "match": {
                    "safe_regex": {
                        "regex": rf"/{package.replace('.', '[.]')}[.][A-Za-z]+/(Get|List)[A-Za-z]*"
                    }
                },
                "route": {
                    "cluster": cluster,
                    "timeout": "10s",
                    "retry_policy": {
                        "retry_on": "unavailable,reset,connect-failure",
                        "num_retries": 2,
                    },
                },
            }
        )
        routes.append(
            {"match": {"prefix": f"/{package}."}, "route": {"cluster": cluster, "timeout": "15s"}}
        )
    # Reflection and health at the root are identity's (a gRPC client's default); every
    # service's are under its own prefix (see OPS_PREFIX).
    routes.append({"match": {"prefix": "/grpc.reflection."}, "route": {"cluster": "identity"}})
    routes.append(
        {"match": {"prefix": "/grpc.health.v1.Health/"}, "route": {"cluster": "identity"}}
    )
    for cluster in clusters:
        routes.append(
            {
                "match": {"prefix": f"{OPS_PREFIX}{cluster}/"},
                "route": {"cluster": cluster, "prefix_rewrite": "/", "timeout": "15s"},
            }
        )
    # REST requests match these before the transcoder rewrites them into gRPC calls.
    routes += _method_not_allowed_routes(surface or {})
    routes.append(_unsupported_media_type_route())
    # Every other request lands here first: the transcoder (on for this route) rewrites a
    # known REST call into a gRPC path matched above, or answers 404 itself. A route for
    # every path also lets the CORS filter answer preflights anywhere.
    # (The CORS filter reads its policy only from a route that forwards, hence a cluster
    # that does not exist rather than a direct response.)
    routes.append(
        {
            "match": {"prefix": "/"},
            "route": {"cluster": NO_ROUTE_CLUSTER, "cluster_not_found_response_code": "NOT_FOUND"},
        }
    )
    return routes


# -- filters that guard the edge before anything else reads the request -------------------

# Lengths are cheap to check in Lua (RE2 cannot count past 1000), and so is a look at the
# few bodies with a map field; see edge_guard.lua.
EDGE_GUARD = HERE / "edge_guard.lua"


def _lua_pattern(template: str) -> str:
    """A Lua pattern for the paths a template matches (as _template_regex)."""
    segments, verb = _segments(template)

    def literal(text: str) -> str:
        return re.sub(r"([^A-Za-z0-9_/])", r"%\1", text)

    parts = ["[^/:]+" if segment is None else literal(segment) for segment in segments]
    return "^/" + "/".join(parts) + (f":{literal(verb)}" if verb else "") + "$"


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII is a valid Lua string literal


def _edge_guard(descriptor_set: Path | None) -> dict[str, Any]:
    routes, fields = scalar_map_bodies(descriptor_set) if descriptor_set else ([], {})
    settings = "\n".join(
        [
            f"local MAX_URL = {MAX_URL_BYTES}",
            f"local MAX_HEADERS = {MAX_HEADER_BYTES}",
            "local MAP_ROUTES = {"
            + ", ".join(
                f"{{{_lua_string(verb)}, {_lua_string(_lua_pattern(template))}}}"
                for verb, template in sorted(routes)
            )
            + "}",
            "local MAP_FIELDS = {"
            + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in sorted(fields.items()))
            + "}",
        ]
    )
    code = EDGE_GUARD.read_text().replace("-- @SETTINGS@", settings)
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": _typed(
            "envoy.extensions.filters.http.lua.v3.Lua", default_source_code={"inline_string": code}
        ),
    }


def _request_id_sanitizer() -> dict[str, Any]:
    """Replace a caller's x-request-id outside SAFE_REQUEST_ID with a fresh UUID.

    Envoy keeps a caller's id as it is (preserve_external_request_id); services would
    replace an unsafe one with their own, and logs would stop correlating. Decided once
    here, the value in the reply, the access log and every service is the same.
    """
    replace = _typed(
        "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
        mutations={
            "request_mutations": [
                {
                    "append": {
                        "header": {"key": "x-request-id", "value": "%UNIQUE_ID%"},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    }
                }
            ]
        },
    )
    safe = {
        "single_predicate": {
            "input": {
                "name": "request-id",
                "typed_config": _typed(
                    "envoy.type.matcher.v3.HttpRequestHeaderMatchInput", header_name="x-request-id"
                ),
            },
            "value_match": {"safe_regex": {"google_re2": {}, "regex": SAFE_REQUEST_ID}},
        }
    }
    skip = {
        "action": {
            "name": "skip",
            "typed_config": _typed("envoy.extensions.filters.common.matcher.action.v3.SkipFilter"),
        }
    }
    return {
        "name": "keel.request_id_sanitizer",
        "typed_config": _typed(
            "envoy.extensions.common.matching.v3.ExtensionWithMatcher",
            extension_config={
                "name": "envoy.filters.http.header_mutation",
                "typed_config": replace,
            },
            xds_matcher={"matcher_list": {"matchers": [{"predicate": safe, "on_match": skip}]}},
        ),
    }


def _cors_policy(origins: Sequence[str] | None) -> dict[str, Any]:
    if origins is None:
        matchers: list[dict[str, Any]] = [{"safe_regex": {"regex": LOCAL_ORIGINS}}]
    else:
        matchers = [{"exact": origin} for origin in origins]
    return _typed(
        "envoy.extensions.filters.http.cors.v3.CorsPolicy",
        allow_origin_string_match=matchers,
        allow_methods="GET, POST, PUT, PATCH, DELETE",
        allow_headers=CORS_HEADERS,
        expose_headers="x-request-id, www-authenticate, allow",
        max_age="600",
        # A preflight from another origin is answered too (without CORS headers, so the
        # browser refuses), never forwarded to jwt_authn for a 401.
        forward_not_matching_preflights=False,
    )


def _jwt_authn(
    issuer: str, audience: str, jwks_cluster: str, contract: ContractAccess
) -> dict[str, Any]:
    public_rules = [
        {
            "match": {
                "path": path,
                "headers": [{"name": ":method", "string_match": {"exact": method}}],
            },
        }
        for method, path in sorted(contract.public_rest)
    ]
    public_rules += [{"match": {"path": path}} for path in sorted(contract.public)]
    public_rules += [{"match": {"path": path, "headers": [_GET_OR_HEAD]}} for path in STATIC_FILES]
    public_rules += [
        {"match": {"prefix": f"{base}{service}"}}
        for base in ["/", *(f"{OPS_PREFIX}{name}/" for name in SERVICES)]
        for service in ("grpc.health.v1.Health/", "grpc.reflection.")
    ]
    return _typed(
        "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        providers={
            "keel": {
                "issuer": issuer,
                "audiences": [audience],
                "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
                "from_params": [],
                "from_cookies": [],
                # The token travels on: every service verifies it again (zero trust).
                "forward": True,
                "remote_jwks": {
                    "http_uri": {
                        "uri": "http://identity-jwks/.well-known/jwks.json",
                        "cluster": jwks_cluster,
                        "timeout": "2s",
                    },
                    "cache_duration": "60s",
                    "async_fetch": {"fast_listener": False},
                    "retry_policy": {"num_retries": 3},
                },
                "clock_skew_seconds": 30,
                # A token seen before is not verified again (its expiry still is): a client
                # sends the same token with every request until it expires.
                "jwt_cache_config": {"jwt_cache_size": JWT_CACHE_SIZE},
            }
        },
        rules=[*public_rules, {"match": {"prefix": "/"}, "requires": {"provider_name": "keel"}}],
        bypass_cors_preflight=True,
    )


def render_config(
    *,
    listen_port: int,
    admin_port: int,
    clusters: Mapping[str, tuple[str, int]],
    issuer: str = "keel-identity",
    audience: str = "keel",
    descriptor_set: PurePath | None = None,
    listen_host: str = "127.0.0.1",
    files_dir: PurePath | None = None,
    cluster_type: ClusterType = "STATIC",
    dns_refresh_rate: str = "5s",
    self_host: str | None = None,
    cors_origins: Sequence[str] | None = None,
    upstream_tls: UpstreamTls | None = None,
    rate_limit_scale: float = 1.0,
    tracing: Tracing | None = None,
) -> dict[str, Any]:
    """The whole Envoy bootstrap for a gateway in front of `clusters` (service -> host, port).

    The defaults describe one machine: the descriptor set, OpenAPI document and docs page
    where `make gen` leaves them (a missing page becomes a 503), clusters of IP addresses.
    Elsewhere, `files_dir` is the directory holding `keel.pb`, `openapi.json` and
    `docs.html` where Envoy runs (named as is, not looked for here), `cluster_type`
    "STRICT_DNS" takes DNS names (re-resolved every `dns_refresh_rate`), and `self_host` is
    the address the JWKS fetch dials to reach this listener (default `listen_host`).
    `cors_origins` are the exact origins browsers may call from (default: any localhost
    port; empty: none).

    The REST surface (which methods each path takes, for 405 replies) is read from the
    descriptor set here: `descriptor_set` when it is a file on this machine, else the one
    `make gen` builds (the same protos as the image's).

    With `upstream_tls` every service cluster is called over mutual TLS (see UpstreamTls).
    `rate_limit_scale` multiplies every RATE_LIMITS entry (a test mesh signing up hundreds
    of tenants a minute raises them; the limits stay in force).

    With `tracing` every request gets a span, exported to its collector (see Tracing).
    """
    if descriptor_set is None:
        descriptor_set = DESCRIPTOR_SET if files_dir is None else files_dir / DESCRIPTOR_SET.name
    local = descriptor_set if isinstance(descriptor_set, Path) else DESCRIPTOR_SET
    surface = rest_surface(local) if local.is_file() else {}
    contract = contract_access(local) if local.is_file() else ContractAccess()
    transcoded = [name for service in clusters for name in SERVICES.get(service, [])]
    http_filters = [
        _request_id_sanitizer(),
        _edge_guard(local if local.is_file() else None),
        _health_check(list(clusters)),
        {
            # Only a platform workload names the organization it acts for: drop it from
            # callers. Keep the real method for the access log.
            "name": "envoy.filters.http.header_mutation",
            "typed_config": _typed(
                "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
                mutations={
                    "request_mutations": [
                        {"remove": ACTING_ORG_HEADER},
                        {
                            "append": {
                                "header": {
                                    "key": ORIGINAL_METHOD_HEADER,
                                    "value": "%REQ(:METHOD)%",
                                },
                                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                            }
                        },
                    ]
                },
            ),
        },
        {"name": "envoy.filters.http.cors", "typed_config": _typed(CORS_FILTER)},
        {
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": _jwt_authn(issuer, audience, "gateway_self", contract),
        },
        {
            "name": "envoy.filters.http.grpc_json_transcoder",
            "typed_config": _typed(
                "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
                proto_descriptor=str(descriptor_set),
                services=transcoded,
                convert_grpc_status=True,
                print_options={
                    "always_print_primitive_fields": True,
                    "always_print_enums_as_ints": False,
                },
                request_validation_options={
                    "reject_unknown_method": True,
                    "reject_unknown_query_parameters": True,
                },
                max_request_body_size=MAX_REQUEST_BYTES,
            ),
        },
        {
            "name": "envoy.filters.http.local_ratelimit",
            "typed_config": _typed(
                "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                stat_prefix="gateway_rate_limit",
            ),
        },
        {
            "name": "envoy.filters.http.router",
            "typed_config": _typed("envoy.extensions.filters.http.router.v3.Router"),
        },
    ]
    hcm = _typed(
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="gateway",
        codec_type="AUTO",
        generate_request_id=True,
        # The edge: trust only the peer address, so callers cannot pick the address that
        # login throttling keys on via x-forwarded-for.
        use_remote_address=True,
        preserve_external_request_id=True,
        # A caller's x-request-id comes back unchanged: by default Envoy packs its trace
        # decision into the 15th character of any UUID-shaped (36-character) id.
        request_id_extension={
            "typed_config": _typed(
                "envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
                pack_trace_reason=False,
                # Tracing samples by trace id (see _sampler), whatever the request id.
                use_request_id_for_trace_sampling=False,
            )
        },
        always_set_request_id_in_response=True,
        access_log=[
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": _typed(
                    "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                    log_format={
                        "json_format": {
                            "time": "%START_TIME%",
                            "method": f"%REQ({ORIGINAL_METHOD_HEADER.upper()}?:METHOD)%",
                            "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                            "status": "%RESPONSE_CODE%",
                            "grpc_status": "%GRPC_STATUS%",
                            "duration_ms": "%DURATION%",
                            "request_id": "%REQ(X-REQUEST-ID)%",
                            "upstream": "%UPSTREAM_CLUSTER%",
                            "flags": "%RESPONSE_FLAGS%",
                            **({"trace_id": "%TRACE_ID%"} if tracing is not None else {}),
                        }
                    },
                ),
            }
        ],
        route_config={
            "name": "keel",
            "virtual_hosts": [
                {
                    "name": "keel",
                    "domains": ["*"],
                    "routes": _routes(
                        clusters, files_dir, surface, contract.platform, rate_limit_scale
                    ),
                    "typed_per_filter_config": {
                        "envoy.filters.http.cors": _cors_policy(cors_origins)
                    },
                }
            ],
            "max_direct_response_body_size_bytes": MAX_STATIC_BYTES,
            # The last route names NO_ROUTE_CLUSTER, which must stay undefined.
            "validate_clusters": False,
        },
        http_filters=http_filters,
        local_reply_config=_local_reply_config(),
        request_timeout="30s",
        max_request_headers_kb=CODEC_HEADER_KB,
    )
    if tracing is not None:
        hcm["tracing"] = _tracing(tracing)
    all_clusters = [
        _cluster(
            name,
            host,
            port,
            grpc=True,
            cluster_type=cluster_type,
            dns_refresh_rate=dns_refresh_rate,
            tls=upstream_tls,
        )
        for name, (host, port) in clusters.items()
    ]
    # jwt_authn fetches identity's JWKS through this very listener (REST -> GetJwks); a
    # wildcard listen address (0.0.0.0) is no destination, hence `self_host`.
    self_address = listen_host if self_host is None else self_host
    all_clusters.append(_cluster("gateway_self", self_address, listen_port, grpc=False))
    bootstrap: dict[str, Any] = {}
    if tracing is not None:
        all_clusters.append(_trace_collector(tracing, dns_refresh_rate))
        bootstrap["layered_runtime"] = {
            "layers": [
                {
                    "name": "keel",
                    "static_layer": {
                        "tracing.opentelemetry.flush_interval_ms": TRACE_FLUSH_MS,
                        "tracing.opentelemetry.min_flush_spans": TRACE_FLUSH_SPANS,
                    },
                },
                {"name": "admin", "admin_layer": {}},
            ]
        }
    return {
        **bootstrap,
        # Envoy's own log lines as JSON too, like the access log and every service's log.
        "application_log_config": {"log_format": {"json_format": APPLICATION_LOG_FORMAT}},
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "gateway",
                    "address": {
                        "socket_address": {"address": listen_host, "port_value": listen_port}
                    },
                    "per_connection_buffer_limit_bytes": MAX_REQUEST_BYTES * 2,
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": hcm,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": all_clusters,
        },
    }


def render(
    out_path: Path,
    *,
    listen_port: int,
    admin_port: int,
    clusters: Mapping[str, tuple[str, int]],
    issuer: str = "keel-identity",
    audience: str = "keel",
    listen_host: str = "127.0.0.1",
    files_dir: PurePath | None = None,
    cluster_type: ClusterType = "STATIC",
    dns_refresh_rate: str = "5s",
    self_host: str | None = None,
    cors_origins: Sequence[str] | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_ca: str | None = None,
    rate_limit_scale: float = 1.0,
    trace_collector: tuple[str, int] | None = None,
    trace_sampling_percent: float = 100.0,
) -> Path:
    """Write the gateway config to `out_path` and return it (see render_config).

    `trace_collector` (host, port) turns Envoy's spans on, `trace_sampling_percent` of the
    requests that bring no decision sampled (all of them by default; see Tracing)."""
    upstream_tls = (
        UpstreamTls(tls_cert, tls_key, tls_ca) if tls_cert and tls_key and tls_ca else None
    )
    config = render_config(
        listen_port=listen_port,
        admin_port=admin_port,
        clusters=clusters,
        issuer=issuer,
        audience=audience,
        listen_host=listen_host,
        files_dir=files_dir,
        cluster_type=cluster_type,
        dns_refresh_rate=dns_refresh_rate,
        self_host=self_host,
        cors_origins=cors_origins,
        upstream_tls=upstream_tls,
        rate_limit_scale=rate_limit_scale,
        tracing=(
            Tracing(*trace_collector, sampling_percent=trace_sampling_percent)
            if trace_collector is not None
            else None
        ),
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(config, indent=2) + "\n")
    return out_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE / "build" / "envoy.json")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--admin-port", type=int, default=9901)
    parser.add_argument(
        "--cluster",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="e.g. identity=127.0.0.1:50051",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="an origin browsers may call from, e.g. https://app.example.com (default: localhost)",
    )
    args = parser.parse_args()
    clusters = {}
    for spec in args.cluster:
        name, _, address = spec.partition("=")
        host, _, port = address.rpartition(":")
        clusters[name] = (host, int(port))
    out = render(
        args.out,
        listen_port=args.port,
        admin_port=args.admin_port,
        clusters=clusters,
        cors_origins=args.cors_origin,
    )
    print(out)


if __name__ == "__main__":
    main()
