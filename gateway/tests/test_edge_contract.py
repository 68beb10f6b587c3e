"""The edge contract's pieces of the rendered config: 405 routes, CORS origins, access log."""

from __future__ import annotations

import re
from typing import Any

import pytest
import render

CLUSTERS = {name: ("127.0.0.1", 50051 + i) for i, name in enumerate(render.SERVICES)}


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    listener = config["static_resources"]["listeners"][0]
    hcm: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm


def test_a_specific_template_allows_the_methods_of_the_general_ones_it_overlaps() -> None:
    surface = {
        "/v1/users/me": {"GET"},
        "/v1/users/{user_id}": {"GET"},
        "/v1/users/{user.user_id}": {"PATCH"},
        "/v1/users/{user_id}:deactivate": {"POST"},
    }
    allowed = render.allowed_methods(surface)
    assert next(iter(allowed)) == "/v1/users/me"  # matched first
    assert allowed["/v1/users/me"] == ["GET", "PATCH"]
    assert allowed["/v1/users/{user_id}"] == ["GET", "PATCH"]
    assert allowed["/v1/users/{user_id}:deactivate"] == ["POST"]


def test_template_regexes_keep_custom_verbs_apart() -> None:
    plain = re.compile(render._template_regex("/v1/items/{item_id}"))
    verb = re.compile(render._template_regex("/v1/items/{item_id}:confirm"))
    assert plain.fullmatch("/v1/items/abc") and not plain.fullmatch("/v1/items/abc:confirm")
    assert verb.fullmatch("/v1/items/abc:confirm") and not verb.fullmatch("/v1/items/abc")


@pytest.mark.skipif(not render.DESCRIPTOR_SET.is_file(), reason="needs `make gen` output")
def test_every_rest_path_of_the_descriptor_set_gets_a_405_route() -> None:
    config = render.render_config(listen_port=8080, admin_port=9901, clusters=CLUSTERS)
    routes = _hcm(config)["route_config"]["virtual_hosts"][0]["routes"]
    regexes = {
        r["match"]["safe_regex"]["regex"]
        for r in routes
        if r.get("direct_response", {}).get("status") == 405
    }
    surface = render.rest_surface(render.DESCRIPTOR_SET)
    assert "/v1/users/me" in surface and len(surface) > 40
    assert regexes == {render._template_regex(template) for template in surface}


def test_cors_origins_are_the_renderers_option() -> None:
    def policy(**options: Any) -> dict[str, Any]:
        config = render.render_config(
            listen_port=8080, admin_port=9901, clusters=CLUSTERS, **options
        )
        vhost = _hcm(config)["route_config"]["virtual_hosts"][0]
        cors: dict[str, Any] = vhost["typed_per_filter_config"]["envoy.filters.http.cors"]
        return cors

    local = policy()["allow_origin_string_match"]
    assert local == [{"safe_regex": {"regex": render.LOCAL_ORIGINS}}]
    assert re.fullmatch(render.LOCAL_ORIGINS, "http://localhost:5173")
    assert not re.fullmatch(render.LOCAL_ORIGINS, "http://localhost.evil.example")
    chosen = policy(cors_origins=["https://app.example.com"])["allow_origin_string_match"]
    assert chosen == [{"exact": "https://app.example.com"}]
    assert policy(cors_origins=[])["allow_origin_string_match"] == []


def test_the_access_log_records_the_callers_method_not_the_transcoded_post() -> None:
    config = render.render_config(listen_port=8080, admin_port=9901, clusters=CLUSTERS)
    hcm = _hcm(config)
    log_format = hcm["access_log"][0]["typed_config"]["log_format"]["json_format"]
    assert log_format["method"] == "%REQ(X-KEEL-ORIGINAL-METHOD?:METHOD)%"
    mutation = next(
        f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.header_mutation"
    )
    kept = mutation["typed_config"]["mutations"]["request_mutations"][1]["append"]["header"]
    assert kept == {"key": render.ORIGINAL_METHOD_HEADER, "value": "%REQ(:METHOD)%"}
    # The transcoder runs after the copy is taken.
    names = [f["name"] for f in hcm["http_filters"]]
    assert names.index("envoy.filters.http.header_mutation") < names.index(
        "envoy.filters.http.grpc_json_transcoder"
    )


def test_the_edge_request_id_alphabet_is_the_services_one() -> None:
    from keel_runtime import context

    assert context._REQUEST_ID_RE.pattern == render.SAFE_REQUEST_ID


@pytest.mark.skipif(not render.DESCRIPTOR_SET.is_file(), reason="needs `make gen` output")
def test_calls_whose_body_has_a_scalar_map_are_found_in_the_descriptor_set() -> None:
    routes, fields = render.scalar_map_bodies(render.DESCRIPTOR_SET)
    assert ("POST", "/v1/accounts") in routes
    assert ("POST", "/v1/transactions:batchCreate") in routes  # nested: list of messages
    assert ("POST", "/v1/items") not in routes
    assert fields == {"metadata": "map<string, string>"}


def test_lua_patterns_escape_literals_and_keep_verbs_apart() -> None:
    assert render._lua_pattern("/v1/transactions/{id}:post") == "^/v1/transactions/[^/:]+:post$"
    assert render._lua_pattern("/.well-known/jwks.json") == "^/%.well%-known/jwks%.json$"
