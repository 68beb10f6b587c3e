"""Render the Envoy gateway configuration (JSON, which Envoy reads as YAML) for one stack.

The gateway transcodes REST/JSON to gRPC from the descriptor set built by `make gen`,
authenticates callers with identity's JWKS (`jwt_authn`), rate-limits the public entry
points, and answers every rejection of its own with a JSON `google.rpc.Status`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, Literal, NamedTuple

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

# Methods callable without a token (sign-up, login, token refresh, API key exchange,
# key discovery).
PUBLIC_METHODS = (
    "/keel.identity.v1.OrganizationService/CreateOrganization",
    "/keel.identity.v1.AuthService/Login",
    "/keel.identity.v1.AuthService/RefreshToken",
    "/keel.identity.v1.AuthService/ExchangeApiKey",
    "/keel.identity.v1.AuthService/GetJwks",
)
# Their REST spellings, as jwt_authn sees them (it runs before transcoding).
PUBLIC_REST = (
    ("POST", "/v1/organizations"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/sessions:refresh"),
    ("POST", "/v1/sessions:exchangeApiKey"),
    ("GET", "/.well-known/jwks.json"),
)
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
# The first request `make run` suggests: a public sign-up through the gateway.
FIRST_CURL = (
    'curl -s {gateway}/v1/organizations -d \'{{"displayName":"Acme",'
    '"ownerEmail":"owner@acme.test","ownerPassword":"correct horse battery"}}\''
)
PRINCIPAL_HEADER = "x-keel-principal"

GRPC_CODE_BY_HTTP = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 429: 8, 503: 14, 504: 4}
REASON_BY_HTTP = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _typed(type_name: str, **fields: Any) -> dict[str, Any]:
    return {"@type": f"type.googleapis.com/{type_name}", **fields}


# Upstream connection failures say how the socket died; callers get a plain sentence.
FIXED_MESSAGES = {503: "service unavailable, retry later", 504: "upstream timed out"}


def _status_body(http_status: int) -> dict[str, Any]:
    """A google.rpc.Status body for one of Envoy's own (local) replies."""
    return {
        "json_format": {
            "code": GRPC_CODE_BY_HTTP.get(http_status, 2),
            "message": FIXED_MESSAGES.get(http_status, "%LOCAL_REPLY_BODY%"),
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
    # Transcoded upstream replies already carry a JSON Status; only Envoy's own replies
    # (no upstream) reach these mappers, and everything else gets a generic one.
    return {"mappers": [static, wrong_audience, *mappers], "body_format": _status_body(500)}


class UpstreamTls(NamedTuple):
    """Files of the gateway's workload certificate: Envoy calls every service over mutual TLS."""

    cert: str
    key: str
    ca: str


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


def _routes(
    clusters: Mapping[str, tuple[str, int]], files_dir: PurePath | None = None
) -> list[dict[str, Any]]:
    routes = [
        _static_route(path, source, content_type, check=files_dir is None)
        for path, (source, content_type) in static_files(files_dir).items()
    ]
    for path, per_minute in RATE_LIMITS.items():
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
    # Operators reach server reflection and health through the gateway; identity answers.
    routes.append({"match": {"prefix": "/grpc.reflection."}, "route": {"cluster": "identity"}})
    routes.append(
        {"match": {"prefix": "/grpc.health.v1.Health/"}, "route": {"cluster": "identity"}}
    )
    return routes


def _jwt_authn(issuer: str, audience: str, jwks_cluster: str) -> dict[str, Any]:
    public_rules = [
        {
            "match": {
                "path": path,
                "headers": [{"name": ":method", "string_match": {"exact": method}}],
            },
        }
        for method, path in PUBLIC_REST
    ]
    public_rules += [{"match": {"path": path}} for path in PUBLIC_METHODS]
    public_rules += [{"match": {"path": path, "headers": [_GET_OR_HEAD]}} for path in STATIC_FILES]
    public_rules += [
        {"match": {"prefix": "/grpc.health.v1.Health/"}},
        {"match": {"prefix": "/grpc.reflection."}},
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
                "forward": False,
                "forward_payload_header": PRINCIPAL_HEADER,
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
            }
        },
        rules=[*public_rules, {"match": {"prefix": "/"}, "requires": {"provider_name": "keel"}}],
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
    upstream_tls: UpstreamTls | None = None,
) -> dict[str, Any]:
    """The whole Envoy bootstrap for a gateway in front of `clusters` (service -> host, port).

    The defaults describe one machine: the descriptor set, OpenAPI document and docs page
    where `make gen` leaves them (a missing page becomes a 503), clusters of IP addresses.
    Elsewhere, `files_dir` is the directory holding `keel.pb`, `openapi.json` and
    `docs.html` where Envoy runs (named as is, not looked for here), `cluster_type`
    "STRICT_DNS" takes DNS names (re-resolved every `dns_refresh_rate`), and `self_host` is
    the address the JWKS fetch dials to reach this listener (default `listen_host`).
    With `upstream_tls` every service cluster is called over mutual TLS (see UpstreamTls).
    """
    if descriptor_set is None:
        descriptor_set = DESCRIPTOR_SET if files_dir is None else files_dir / DESCRIPTOR_SET.name
    transcoded = [name for service in clusters for name in SERVICES.get(service, [])]
    http_filters = [
        {
            # A caller must never choose its own principal: drop any it sent before
            # jwt_authn writes the verified one.
            "name": "envoy.filters.http.header_mutation",
            "typed_config": _typed(
                "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
                mutations={"request_mutations": [{"remove": PRINCIPAL_HEADER}]},
            ),
        },
        {
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": _jwt_authn(issuer, audience, "gateway_self"),
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
                            "method": "%REQ(:METHOD)%",
                            "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                            "status": "%RESPONSE_CODE%",
                            "grpc_status": "%GRPC_STATUS%",
                            "duration_ms": "%DURATION%",
                            "request_id": "%REQ(X-REQUEST-ID)%",
                            "upstream": "%UPSTREAM_CLUSTER%",
                            "flags": "%RESPONSE_FLAGS%",
                        }
                    },
                ),
            }
        ],
        route_config={
            "name": "keel",
            "virtual_hosts": [
                {"name": "keel", "domains": ["*"], "routes": _routes(clusters, files_dir)}
            ],
            "max_direct_response_body_size_bytes": MAX_STATIC_BYTES,
        },
        http_filters=http_filters,
        local_reply_config=_local_reply_config(),
        request_timeout="30s",
    )
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
    return {
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
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_ca: str | None = None,
) -> Path:
    """Write the gateway config to `out_path` and return it (see render_config)."""
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
        upstream_tls=upstream_tls,
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
    args = parser.parse_args()
    clusters = {}
    for spec in args.cluster:
        name, _, address = spec.partition("=")
        host, _, port = address.rpartition(":")
        clusters[name] = (host, int(port))
    print(render(args.out, listen_port=args.port, admin_port=args.admin_port, clusters=clusters))


if __name__ == "__main__":
    main()
