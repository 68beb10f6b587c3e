"""deploy/k8s offline: Kubernetes schemas, kustomizations, services, scaling, PostgreSQL."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from k8s_model import (
    BASE,
    DEPLOY,
    K8S,
    OVERLAYS,
    PG_TLS_QUERY,
    SERVICES,
    Manifest,
    address_problems,
    by_kind,
    containers,
    env_of,
    find,
    grpc_service_problems,
    hardening_problems,
    kustomization_files,
    kustomization_problems,
    kustomize_build,
    load_manifests,
    load_yaml,
    metrics_problems,
    pod_spec,
    postgres_tls_problems,
    referenced_files,
    scaling_problems,
    split_url,
    stream_replicas_problems,
    tls_secret_mount,
)

# The oldest minor we support: native gRPC probes are GA since 1.27, preStop sleep since 1.30.
KUBERNETES_VERSION = "1.30"
CNPG = "postgresql.cnpg.io/v1"
CERT_MANAGER = "cert-manager.io/v1"

MANIFESTS = load_manifests()
BASE_MANIFESTS = load_manifests(BASE)
WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def _label(manifest: Manifest) -> str:
    return manifest.label


def _builtin(manifest: Manifest) -> bool:
    return manifest.doc.get("apiVersion") not in (CNPG, CERT_MANAGER)


def _schema_errors(doc: dict[str, Any]) -> str | None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path)
        return f"{error.message} at /{where}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return str(error.message)
    return None


# -- schemas -----------------------------------------------------------------------------


@pytest.mark.parametrize("manifest", [m for m in MANIFESTS if _builtin(m)], ids=_label)
def test_builtin_kinds_match_the_strict_kubernetes_schema(manifest: Manifest) -> None:
    assert _schema_errors(manifest.doc) is None, manifest.label


def test_the_schema_check_rejects_unknown_fields() -> None:
    deployment = copy.deepcopy(find(BASE_MANIFESTS, "Deployment", "ledger")).doc  # type: ignore[union-attr]
    assert _schema_errors(deployment) is None
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert "readinesProbe" in (_schema_errors(deployment) or "")


def test_only_known_custom_resources_skip_the_schema_check() -> None:
    custom = {(m.doc["apiVersion"], m.kind) for m in MANIFESTS if not _builtin(m)}
    assert custom <= {
        (CNPG, "Cluster"),
        (CNPG, "Database"),
        (CERT_MANAGER, "Issuer"),
        (CERT_MANAGER, "Certificate"),
    }


# -- kustomize ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_paths_exist(path: Path) -> None:
    assert kustomization_problems(path) == []


def test_a_missing_kustomization_path_is_reported(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [gone.yaml]\npatches: [{path: nope.yaml}]\n"
        "configMapGenerator: [{name: x, files: [a.json=missing.json]}]\n"
    )
    assert len(kustomization_problems(tmp_path / "kustomization.yaml")) == 3


def test_every_base_manifest_is_part_of_the_build() -> None:
    used = referenced_files(BASE / "kustomization.yaml")
    orphans = {m.path.resolve() for m in BASE_MANIFESTS} - used
    assert not orphans, f"not listed in base/kustomization.yaml: {sorted(map(str, orphans))}"


def test_mounted_config_maps_exist() -> None:
    generated = {g["name"] for g in load_yaml(BASE / "kustomization.yaml")["configMapGenerator"]}
    declared = {m.name for m in by_kind(BASE_MANIFESTS, "ConfigMap")}
    for workload in [m for m in BASE_MANIFESTS if m.kind in WORKLOAD_KINDS]:
        for volume in pod_spec(workload).get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in generated | declared, workload.label


@pytest.mark.parametrize("overlay", sorted(OVERLAYS.iterdir()), ids=lambda p: p.name)
def test_overlays_build_and_pin_every_image(overlay: Path) -> None:
    built = kustomize_build(overlay)  # raises when a patch misses its target
    ours = {
        container["image"]
        for workload in built
        if workload.kind in WORKLOAD_KINDS
        for container in containers(workload)
        if container["image"].startswith("keel-")
    }
    pinned = {
        image["name"]
        for image in load_yaml(overlay / "kustomization.yaml").get("images", [])
        if image.get("newTag") and image.get("newName")
    }
    assert ours == {f"keel-{name}" for name in (*SERVICES, "gateway")}
    assert ours <= pinned, f"{overlay.name} leaves {sorted(ours - pinned)} unpinned"


def test_production_runs_three_of_everything_stateful_or_scaled() -> None:
    built = kustomize_build(OVERLAYS / "production")
    for hpa in by_kind(built, "HorizontalPodAutoscaler"):
        assert hpa.doc["spec"]["minReplicas"] >= 3, hpa.label
        assert hpa.doc["spec"]["maxReplicas"] >= hpa.doc["spec"]["minReplicas"], hpa.label
    assert find(built, "StatefulSet", "nats").doc["spec"]["replicas"] == 3  # type: ignore[union-attr]
    assert find(built, "Cluster", "keel-pg").doc["spec"]["instances"] == 3  # type: ignore[union-attr]


@pytest.mark.parametrize("overlay", sorted(OVERLAYS.iterdir()), ids=lambda p: p.name)
def test_synchronous_standbys_exist_in_every_overlay(overlay: Path) -> None:
    # Waiting for more synchronous standbys than there are instances blocks every commit.
    for cluster in by_kind(kustomize_build(overlay), "Cluster"):
        spec = cluster.doc["spec"]
        wanted = spec.get("postgresql", {}).get("synchronous", {}).get("number", 0)
        assert wanted < spec["instances"], cluster.label


# -- services ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_service_deployment_probes_env_migrations_scaling(service: str) -> None:
    deployment = find(BASE_MANIFESTS, "Deployment", service)
    assert deployment is not None
    assert grpc_service_problems(BASE_MANIFESTS, deployment) == []


def test_the_service_checks_catch_broken_deployments() -> None:
    manifests = copy.deepcopy(BASE_MANIFESTS)
    deployment = find(manifests, "Deployment", "ledger")
    assert deployment is not None
    main = pod_spec(deployment)["containers"][0]
    main["readinessProbe"] = {"httpGet": {"port": 8080, "path": "/"}}
    main["livenessProbe"]["grpc"]["port"] = 50051
    main["env"] = [e for e in main["env"] if e["name"] not in ("TLS_KEY_FILE", "MALLOC_ARENA_MAX")]
    pod_spec(deployment)["initContainers"] = []
    pod_spec(deployment)["terminationGracePeriodSeconds"] = 10
    without_pdb = [m for m in manifests if m.kind != "PodDisruptionBudget"]
    problems = "\n".join(grpc_service_problems(without_pdb, deployment))
    for expected in (
        "readinessProbe is not a gRPC probe",
        "livenessProbe port 50051 is not the health port",
        "TLS_KEY_FILE None is not /etc/keel/tls/tls.key",
        "MALLOC_ARENA_MAX None is not '2'",
        "no init container runs",
        "terminationGracePeriodSeconds 10",
        "no policy/v1 PodDisruptionBudget",
    ):
        assert expected in problems


@pytest.mark.parametrize("service", SERVICES)
def test_service_metrics_are_served_annotated_and_reachable(service: str) -> None:
    deployment = find(BASE_MANIFESTS, "Deployment", service)
    assert deployment is not None
    assert metrics_problems(BASE_MANIFESTS, deployment) == []


def test_the_metrics_check_catches_an_unscraped_deployment() -> None:
    manifests = copy.deepcopy(BASE_MANIFESTS)
    deployment = find(manifests, "Deployment", "billing")
    assert deployment is not None
    main = pod_spec(deployment)["containers"][0]
    main["env"] = [e for e in main["env"] if e["name"] != "METRICS_BIND"]
    main["ports"] = [p for p in main["ports"] if p["name"] != "metrics"]
    del deployment.doc["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"]
    without_policies = [m for m in manifests if m.kind != "NetworkPolicy"]
    label = deployment.label
    assert metrics_problems(without_policies, deployment) == [
        f"{label}: no container port `metrics` 9090",
        f"{label}: METRICS_BIND '' is not 0.0.0.0:9090",
        f"{label}: pod annotation prometheus.io/scrape is not 'true'",
        f"{label}: no NetworkPolicy admits {{'kubernetes.io/metadata.name': 'monitoring'}} "
        "to port 9090",
    ]


def test_migrations_get_the_database_url_and_nothing_they_do_not_need() -> None:
    deployment = copy.deepcopy(find(BASE_MANIFESTS, "Deployment", "items"))
    assert deployment is not None
    init = pod_spec(deployment)["initContainers"][0]
    init["env"] = [e for e in init["env"] if e["name"] != "DATABASE_URL"]
    init["env"].append({"name": "NATS_URL", "value": "nats://nats.keel.svc.cluster.local:4222"})
    problems = grpc_service_problems(BASE_MANIFESTS, deployment)
    assert f"{deployment.label}: migration env ['NATS_URL'] is not needed to migrate" in problems
    assert f"{deployment.label}: migration env DATABASE_URL is missing" in problems


@pytest.mark.parametrize("service", SERVICES)
def test_streams_are_replicated_on_every_nats_server(service: str) -> None:
    deployment = find(BASE_MANIFESTS, "Deployment", service)
    assert deployment is not None
    env = env_of(pod_spec(deployment)["containers"][0])
    # ARCHITECTURE §5: R3 streams on the three-server JetStream cluster.
    assert env["NATS_STREAM_REPLICAS"]["value"] == "3"
    for overlay in sorted(OVERLAYS.iterdir()):
        built = kustomize_build(overlay)
        deployed = find(built, "Deployment", service)
        assert deployed is not None
        assert stream_replicas_problems(built, deployed) == [], overlay.name


def test_the_stream_replicas_check_catches_more_replicas_than_servers() -> None:
    manifests = copy.deepcopy(BASE_MANIFESTS)
    deployment = find(manifests, "Deployment", "ledger")
    nats = find(manifests, "StatefulSet", "nats")
    assert deployment is not None and nats is not None
    nats.doc["spec"]["replicas"] = 1
    assert stream_replicas_problems(manifests, deployment) == [
        f"{deployment.label}: NATS_STREAM_REPLICAS 3 exceeds the 1 NATS servers"
    ]
    env_of(pod_spec(deployment)["containers"][0])["NATS_STREAM_REPLICAS"]["value"] = "0"
    assert stream_replicas_problems(manifests, deployment) == [
        f"{deployment.label}: NATS_STREAM_REPLICAS '0' is not 1..5"
    ]


@pytest.mark.parametrize(
    "workload",
    [m for m in BASE_MANIFESTS if m.kind in WORKLOAD_KINDS],
    ids=_label,
)
def test_workloads_are_hardened_and_bounded(workload: Manifest) -> None:
    assert hardening_problems(workload) == []


def test_the_hardening_check_catches_a_writable_root() -> None:
    workload = copy.deepcopy(find(BASE_MANIFESTS, "Deployment", "items"))
    assert workload is not None
    pod_spec(workload)["initContainers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    assert hardening_problems(workload) == [
        f"{workload.label} container migrate: readOnlyRootFilesystem is not true"
    ]


def test_gateway_is_scaled_and_budgeted_too() -> None:
    gateway = find(BASE_MANIFESTS, "Deployment", "gateway")
    assert gateway is not None
    assert scaling_problems(BASE_MANIFESTS, gateway) == []


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        *[(s, "NATS_URL") for s in SERVICES],
        ("identity", "REDIS_URL"),
        ("billing", "LEDGER_TARGET"),
    ],
)
def test_service_addresses_name_our_services(service: str, variable: str) -> None:
    deployment = find(BASE_MANIFESTS, "Deployment", service)
    assert deployment is not None
    value = env_of(pod_spec(deployment)["containers"][0])[variable]["value"]
    host, port = split_url(value)
    assert address_problems(BASE_MANIFESTS, f"{service} {variable}", host, port) == []


def test_jwt_settings_agree_with_the_gateway() -> None:
    import render_gateway

    for service in SERVICES:
        deployment = find(BASE_MANIFESTS, "Deployment", service)
        assert deployment is not None
        env = env_of(pod_spec(deployment)["containers"][0])
        assert env["JWT_ISSUER"]["value"] == render_gateway.ISSUER, service
        assert env["JWT_AUDIENCE"]["value"] == render_gateway.AUDIENCE, service


# -- workload certificates (cert-manager) --------------------------------------------------

WORKLOADS = (*SERVICES, "gateway", "operator", "nats")
# The cert-manager v1 fields we may use; the built-in schemas do not know these kinds.
CERTIFICATE_SPEC_FIELDS = {
    "secretName", "commonName", "uris", "dnsNames", "ipAddresses", "duration", "renewBefore",
    "privateKey", "usages", "issuerRef", "isCA", "subject", "secretTemplate",
}  # fmt: skip
ISSUER_SPEC_FIELDS = {"selfSigned", "ca"}
MAX_WORKLOAD_HOURS = 24


def _hours(duration: str) -> float:
    return float(duration.removesuffix("h")) if duration.endswith("h") else float("inf")


def _certificate_problems(manifests: list[Manifest]) -> list[str]:
    """Each workload: a short-lived Certificate with its SPIFFE URI, from an Issuer that exists."""
    problems = []
    issuers = {m.name: m.doc.get("spec", {}) for m in by_kind(manifests, "Issuer")}
    for name, spec in issuers.items():
        if len(set(spec) & ISSUER_SPEC_FIELDS) != 1 or set(spec) - ISSUER_SPEC_FIELDS:
            problems.append(f"Issuer {name}: spec must be one of {sorted(ISSUER_SPEC_FIELDS)}")
    certificates = {m.name: m.doc for m in by_kind(manifests, "Certificate")}
    for name, doc in certificates.items():
        spec = doc.get("spec", {})
        unknown = sorted(set(spec) - CERTIFICATE_SPEC_FIELDS)
        problems += [f"Certificate {name}: spec.{field} is unknown" for field in unknown]
        issuer = spec.get("issuerRef", {})
        if issuer.get("kind") != "Issuer" or issuer.get("name") not in issuers:
            problems.append(f"Certificate {name}: issuerRef names no Issuer here")
    for workload in WORKLOADS:
        doc = certificates.get(f"keel-{workload}")
        if doc is None:
            problems.append(f"no Certificate keel-{workload}")
            continue
        spec = doc["spec"]
        if spec.get("uris") != [f"spiffe://keel/{workload}"]:
            problems.append(f"Certificate keel-{workload}: uris is not [spiffe://keel/{workload}]")
        if spec.get("secretName") != f"keel-{workload}-tls":
            problems.append(f"Certificate keel-{workload}: secretName is not keel-{workload}-tls")
        if _hours(spec.get("duration", "")) > MAX_WORKLOAD_HOURS:
            problems.append(f"Certificate keel-{workload}: lives longer than {MAX_WORKLOAD_HOURS}h")
        if "client auth" not in spec.get("usages", []):
            problems.append(f"Certificate keel-{workload}: no client auth usage")
        if spec.get("issuerRef", {}).get("name") != "keel-mesh-ca":
            problems.append(f"Certificate keel-{workload}: not issued by the mesh CA")
    return problems


def test_every_workload_gets_a_short_lived_spiffe_certificate() -> None:
    assert _certificate_problems(BASE_MANIFESTS) == []


def test_the_certificate_check_catches_a_wrong_identity_and_a_typo() -> None:
    manifests = copy.deepcopy(BASE_MANIFESTS)
    billing = find(manifests, "Certificate", "keel-billing")
    assert billing is not None
    billing.doc["spec"]["uris"] = ["spiffe://keel/ledger"]
    billing.doc["spec"]["durations"] = billing.doc["spec"].pop("duration")
    without_operator = [m for m in manifests if m.name != "keel-operator"]
    assert _certificate_problems(without_operator) == [
        "Certificate keel-billing: spec.durations is unknown",
        "Certificate keel-billing: uris is not [spiffe://keel/billing]",
        "Certificate keel-billing: lives longer than 24h",
        "no Certificate keel-operator",
    ]


def test_the_gateway_mounts_its_own_certificate_where_envoy_reads_it() -> None:
    gateway = find(BASE_MANIFESTS, "Deployment", "gateway")
    assert gateway is not None
    (envoy,) = pod_spec(gateway)["containers"]
    assert tls_secret_mount(gateway, envoy) == ("/etc/keel/tls", "keel-gateway-tls")


# -- PostgreSQL (CloudNativePG) ----------------------------------------------------------

# The CloudNativePG v1 fields we may use; a typo elsewhere would be dropped by the API server.
CLUSTER_SPEC_FIELDS = {
    "affinity", "backup", "bootstrap", "certificates", "description", "enablePDB",
    "enableSuperuserAccess", "env", "envFrom", "imageCatalogRef", "imageName",
    "imagePullPolicy", "inheritedMetadata", "instances", "logLevel", "managed",
    "maxSyncReplicas", "minSyncReplicas", "monitoring", "nodeMaintenanceWindow", "plugins",
    "postgresql", "primaryUpdateMethod", "primaryUpdateStrategy", "priorityClassName",
    "projectedVolumeTemplate", "replica", "resources", "serviceAccountTemplate",
    "smartShutdownTimeout", "startDelay", "stopDelay", "storage", "superuserSecret",
    "switchoverDelay", "tablespaces", "topologySpreadConstraints", "walStorage",
}  # fmt: skip
ROLE_FIELDS = {
    "name", "ensure", "login", "passwordSecret", "comment", "superuser", "createdb",
    "createrole", "inherit", "replication", "bypassrls", "connectionLimit", "validUntil",
    "inRoles", "disablePassword",
}  # fmt: skip
DATABASE_SPEC_FIELDS = {
    "cluster", "name", "owner", "ensure", "template", "encoding", "locale", "isTemplate",
    "allowConnections", "connectionLimit", "tablespace", "databaseReclaimPolicy",
}  # fmt: skip


def _cluster_problems(cluster: dict[str, Any]) -> list[str]:
    problems = []
    spec = cluster.get("spec", {})
    problems += [f"Cluster spec.{k} is unknown" for k in sorted(set(spec) - CLUSTER_SPEC_FIELDS)]
    if not isinstance(spec.get("instances"), int) or spec["instances"] < 1:
        problems.append("Cluster spec.instances is not a positive integer")
    if not spec.get("storage", {}).get("size"):
        problems.append("Cluster spec.storage.size is missing")
    initdb = spec.get("bootstrap", {}).get("initdb", {})
    if not {"database", "owner"} <= set(initdb) or "name" not in initdb.get("secret", {}):
        problems.append("Cluster bootstrap.initdb needs database, owner and secret.name")
    for role in spec.get("managed", {}).get("roles", []):
        problems += [f"role {role.get('name')}: {k} is unknown" for k in set(role) - ROLE_FIELDS]
        if not role.get("login") or "name" not in role.get("passwordSecret", {}):
            problems.append(f"role {role.get('name')}: needs login and passwordSecret.name")
    return problems


def test_postgres_cluster_has_the_structure_cloudnativepg_needs() -> None:
    (cluster,) = [m for m in by_kind(BASE_MANIFESTS, "Cluster") if m.doc["apiVersion"] == CNPG]
    assert _cluster_problems(cluster.doc) == []
    assert cluster.doc["spec"]["instances"] == 3


def test_the_cluster_check_catches_a_typo() -> None:
    cluster = copy.deepcopy(find(BASE_MANIFESTS, "Cluster", "keel-pg")).doc  # type: ignore[union-attr]
    cluster["spec"]["instance"] = cluster["spec"].pop("instances")
    assert _cluster_problems(cluster) == [
        "Cluster spec.instance is unknown",
        "Cluster spec.instances is not a positive integer",
    ]


def _databases() -> dict[str, tuple[str, str]]:
    """Database name -> (owner role, Secret holding that role's password)."""
    cluster = find(BASE_MANIFESTS, "Cluster", "keel-pg")
    assert cluster is not None
    spec = cluster.doc["spec"]
    initdb = spec["bootstrap"]["initdb"]
    secrets = _role_secrets()
    found = {initdb["database"]: (initdb["owner"], secrets[initdb["owner"]])}
    for database in by_kind(BASE_MANIFESTS, "Database"):
        db = database.doc["spec"]
        assert set(db) <= DATABASE_SPEC_FIELDS, database.label
        assert db["cluster"]["name"] == cluster.name, database.label
        assert db["owner"] in secrets, f"{database.label}: owner {db['owner']} is no role"
        found[db["name"]] = (db["owner"], secrets[db["owner"]])
    return found


def _role_secrets() -> dict[str, str]:
    """Role name -> Secret holding its password."""
    cluster = find(BASE_MANIFESTS, "Cluster", "keel-pg")
    assert cluster is not None
    spec = cluster.doc["spec"]
    initdb = spec["bootstrap"]["initdb"]
    secrets = {initdb["owner"]: initdb["secret"]["name"]}
    secrets |= {r["name"]: r["passwordSecret"]["name"] for r in spec["managed"]["roles"]}
    return secrets


def _secret_of(container: dict[str, Any], variable: str) -> str:
    return str(env_of(container)[variable]["valueFrom"]["secretKeyRef"]["name"])


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_owns_its_database_and_serves_as_its_runtime_role(service: str) -> None:
    owner, owner_secret = _databases()[f"keel_{service}"]
    assert owner == service
    runtime_secret = _role_secrets()[f"{service}_runtime"]
    deployment = find(BASE_MANIFESTS, "Deployment", service)
    assert deployment is not None
    for container in containers(deployment):
        # Every container logs in as the runtime role; only `migrate` also as the owner.
        assert _secret_of(container, "DATABASE_URL") == runtime_secret, container["name"]
        assert _secret_of(container, "DATA_ENCRYPTION_KEYS") == "keel-data-keys"
        if container["name"] == "migrate":
            assert _secret_of(container, "MIGRATION_DATABASE_URL") == owner_secret
        else:
            assert "MIGRATION_DATABASE_URL" not in env_of(container), container["name"]


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_roles_can_neither_own_nor_bypass(service: str) -> None:
    cluster = find(BASE_MANIFESTS, "Cluster", "keel-pg")
    assert cluster is not None
    [role] = [
        r for r in cluster.doc["spec"]["managed"]["roles"] if r["name"] == f"{service}_runtime"
    ]
    assert role["login"] is True
    for attribute in ("inherit", "superuser", "createdb", "createrole", "bypassrls"):
        assert role[attribute] is False, attribute


def test_dev_secrets_match_roles_and_the_operator_service() -> None:
    generators = load_yaml(OVERLAYS / "dev" / "kustomization.yaml")["secretGenerator"]
    secrets = {g["name"]: dict(item.split("=", 1) for item in g["literals"]) for g in generators}
    databases = {f"keel_{svc}": f"keel_{svc}" for svc in SERVICES}
    for role, secret in _role_secrets().items():
        values = secrets[secret]
        assert values["username"] == role
        database = databases[f"keel_{role.removesuffix('_runtime')}"]
        # CloudNativePG's read-write Service is <cluster>-rw; TLS verified against its CA.
        assert values["uri"] == (
            f"postgresql://{role}:{values['password']}"
            f"@keel-pg-rw.keel.svc.cluster.local:5432/{database}?{PG_TLS_QUERY}"
        )


def test_postgres_refuses_plaintext_and_every_client_verifies_the_server() -> None:
    cluster = find(BASE_MANIFESTS, "Cluster", "keel-pg")
    assert cluster is not None
    deployments = by_kind(BASE_MANIFESTS, "Deployment")
    assert postgres_tls_problems(cluster.doc, deployments) == []


def test_the_postgres_tls_check_catches_plaintext_and_an_unmounted_ca() -> None:
    cluster = copy.deepcopy(find(BASE_MANIFESTS, "Cluster", "keel-pg")).doc  # type: ignore[union-attr]
    cluster["spec"]["postgresql"]["pg_hba"] = []
    items = copy.deepcopy(find(BASE_MANIFESTS, "Deployment", "items"))
    assert items is not None
    for volume in pod_spec(items)["volumes"]:
        if volume["name"] == "pg-ca":
            del volume["secret"]["items"]  # the CA's private key would be mounted too
    assert postgres_tls_problems(cluster, [items]) == [
        "Cluster: pg_hba does not refuse plaintext (hostnossl ... reject)",
        f"{items.label} migrate: /etc/keel/pg-ca is not ca.crt of keel-pg-ca alone",
        f"{items.label} items: /etc/keel/pg-ca is not ca.crt of keel-pg-ca alone",
    ]


def test_every_secret_the_manifests_use_is_documented_and_provided_in_dev() -> None:
    names = set()
    for workload in [m for m in BASE_MANIFESTS if m.kind in WORKLOAD_KINDS]:
        for container in containers(workload):
            for entry in container.get("env", []):
                if ref := entry.get("valueFrom", {}).get("secretKeyRef"):
                    names.add(ref["name"])
    names |= set(_role_secrets().values())
    readme = (DEPLOY / "README.md").read_text()
    dev = {g["name"] for g in load_yaml(OVERLAYS / "dev" / "kustomization.yaml")["secretGenerator"]}
    assert {n for n in names if f"`{n}`" not in readme} == set()
    assert names <= dev
    # Mounted Secrets: each one cert-manager issues (a workload certificate) or dev provides.
    issued = {m.doc["spec"]["secretName"] for m in by_kind(BASE_MANIFESTS, "Certificate")}
    mounted = {
        volume["secret"]["secretName"]
        for workload in BASE_MANIFESTS
        if workload.kind in WORKLOAD_KINDS
        for volume in pod_spec(workload).get("volumes", [])
        if "secret" in volume
    }
    # CloudNativePG makes <cluster>-ca (its CA; pods mount its ca.crt only).
    made = {f"{m.name}-ca" for m in by_kind(BASE_MANIFESTS, "Cluster")}
    assert mounted <= issued | dev | made, mounted - issued - dev - made
