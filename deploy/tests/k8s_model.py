"""The manifests under deploy/k8s as data, plus the checks the tests run on them."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1]
ROOT = DEPLOY.parent
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
NAMESPACE = "keel"
CLUSTER_DOMAIN = "svc.cluster.local"
SERVICES = ("identity", "ledger", "items", "billing")
GRPC_PORT = 50051
METRICS_PORT = 9090
METRICS_PATH = "/metrics"
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}
"""The namespace label NetworkPolicies admit Prometheus from (deploy/README.md)."""

Doc = dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    """One YAML document and the file it came from."""

    path: Path
    doc: Doc

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.doc.get("metadata", {}).get("name", ""))

    @property
    def label(self) -> str:
        return f"{self.path.relative_to(K8S)}:{self.kind}/{self.name}"


def kustomization_files() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def load_manifests(root: Path = K8S) -> list[Manifest]:
    """Every non-empty YAML document under `root` except the kustomizations themselves."""
    found = []
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append(Manifest(path, doc))
    return found


def load_yaml(path: Path) -> Doc:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} is not a mapping"
    return loaded


def by_kind(manifests: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.kind == kind]


def find(manifests: Iterable[Manifest], kind: str, name: str) -> Manifest | None:
    return next((m for m in manifests if m.kind == kind and m.name == name), None)


# -- kustomize, the parts we use -------------------------------------------------------


def kustomization_problems(path: Path) -> list[str]:
    """Paths a kustomization names that do not exist (kustomize would refuse to build)."""
    problems = []
    here = path.parent
    spec = load_yaml(path)
    for entry in spec.get("resources", []):
        target = here / entry
        if not (target.is_file() or (target / "kustomization.yaml").is_file()):
            problems.append(f"{path}: resource {entry} does not exist")
    for patch in spec.get("patches", []):
        if "path" in patch and not (here / patch["path"]).is_file():
            problems.append(f"{path}: patch {patch['path']} does not exist")
        if "path" not in patch and "patch" not in patch:
            problems.append(f"{path}: patch without path or inline patch")
    for generator in [*spec.get("configMapGenerator", []), *spec.get("secretGenerator", [])]:
        for entry in generator.get("files", []):
            source = entry.partition("=")[2] or entry
            if not (here / source).is_file():
                problems.append(f"{path}: generator file {source} does not exist")
    return problems


def referenced_files(path: Path) -> set[Path]:
    """Every file a kustomization pulls in, following resources into other kustomizations."""
    here = path.parent
    spec = load_yaml(path)
    files: set[Path] = set()
    for entry in spec.get("resources", []):
        target = (here / entry).resolve()
        if target.is_dir():
            files |= referenced_files(target / "kustomization.yaml")
        else:
            files.add(target)
    for patch in spec.get("patches", []):
        if "path" in patch:
            files.add((here / patch["path"]).resolve())
    return files


def kustomize_build(overlay: Path) -> list[Manifest]:
    """The overlay's documents with its inline JSON 6902 patches applied (no generators).

    Enough to check what overlays change (replica bounds, instances); kustomize itself is
    not available offline.
    """
    spec = load_yaml(overlay / "kustomization.yaml")
    manifests: list[Manifest] = []
    for entry in spec.get("resources", []):
        target = (overlay / entry).resolve()
        if target.is_dir():
            manifests += kustomize_build(target)
        else:
            manifests += [Manifest(target, d) for d in yaml.safe_load_all(target.read_text()) if d]
    manifests = [Manifest(m.path, copy.deepcopy(m.doc)) for m in manifests]
    for patch in spec.get("patches", []):
        operations = yaml.safe_load(patch["patch"]) if "patch" in patch else None
        if not isinstance(operations, list):
            continue  # strategic merge patches are not modelled
        targets = [m for m in manifests if _matches(m, patch.get("target", {}))]
        if not targets:
            raise ValueError(f"{overlay}: patch target {patch.get('target')} matches nothing")
        for manifest in targets:
            for operation in operations:
                _apply(manifest, operation)
    return manifests


def _matches(manifest: Manifest, target: Mapping[str, Any]) -> bool:
    if "kind" in target and manifest.kind != target["kind"]:
        return False
    return not ("name" in target and manifest.name != target["name"])


def _apply(manifest: Manifest, operation: Mapping[str, Any]) -> None:
    *parents, last = [
        p.replace("~1", "/").replace("~0", "~") for p in operation["path"][1:].split("/")
    ]
    node: Any = manifest.doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            raise ValueError(f"{manifest.label}: {operation['path']} does not exist")
    op = operation["op"]
    if op in ("replace", "remove") and (isinstance(node, dict) and last not in node):
        raise ValueError(f"{manifest.label}: cannot {op} missing {operation['path']}")
    if op == "remove":
        del node[last]
    elif op in ("replace", "add"):
        node[last] = operation["value"]
    else:
        raise ValueError(f"{manifest.label}: unsupported op {op}")


# -- workloads ---------------------------------------------------------------------------


def pod_spec(manifest: Manifest) -> Doc:
    spec: Doc = manifest.doc["spec"]["template"]["spec"]
    return spec


def containers(manifest: Manifest) -> Iterator[Doc]:
    spec = pod_spec(manifest)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    wanted = selector.get("matchLabels", selector)
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def env_of(container: Doc) -> dict[str, Doc]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def hardening_problems(manifest: Manifest) -> list[str]:
    """Non-root, read-only root, no capabilities, bounded resources: every container."""
    problems = []
    spec = pod_spec(manifest)
    if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append(f"{manifest.label}: pod securityContext.runAsNonRoot is not true")
    for container in containers(manifest):
        where = f"{manifest.label} container {container['name']}"
        context = container.get("securityContext", {})
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: capabilities do not drop ALL")
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(part, {})):
                problems.append(f"{where}: resources.{part} lacks cpu or memory")
    return problems


def _port_number(container: Doc, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


def service_for(manifests: Iterable[Manifest], deployment: Manifest) -> list[Manifest]:
    labels = deployment.doc["spec"]["template"]["metadata"]["labels"]
    return [s for s in by_kind(manifests, "Service") if selects(s.doc["spec"]["selector"], labels)]


def grpc_service_problems(manifests: list[Manifest], deployment: Manifest) -> list[str]:
    """A Keel service Deployment: probes, env, migrations, shutdown, Services, HPA, PDB."""
    name = deployment.name
    problems = []
    spec = pod_spec(deployment)
    main = next((c for c in spec["containers"] if c["name"] == name), None)
    if main is None:
        return [f"{deployment.label}: no container named {name}"]
    services = service_for(manifests, deployment)
    if not services:
        problems.append(f"{deployment.label}: no Service selects it")
    for service in services:
        for port in service.doc["spec"]["ports"]:
            if port.get("name") != "grpc" or port.get("appProtocol") != "grpc":
                problems.append(f"{service.label}: port is not named and typed grpc")
            target = _port_number(main, port.get("targetPort", port["port"]))
            if target is None:
                problems.append(f"{service.label}: targetPort matches no container port")
                continue
    problems += _probe_problems(deployment, main)
    problems += tls_problems(deployment, main)
    problems += _env_problems(deployment, main)
    problems += metrics_problems(manifests, deployment)
    problems += _migration_problems(deployment, main)
    problems += _shutdown_problems(deployment, main)
    problems += scaling_problems(manifests, deployment)
    return problems


def _probe_problems(deployment: Manifest, main: Doc) -> list[str]:
    """gRPC probes on the plaintext health-only port (HEALTH_BIND): the main port requires a
    client certificate, which the kubelet cannot present."""
    problems = []
    health = _port_number(main, "health")
    bind = env_of(main).get("HEALTH_BIND", {}).get("value", "")
    host, _, port = bind.rpartition(":")
    if health is None or host != "0.0.0.0" or int(port or 0) != health:
        problems.append(f"{deployment.label}: HEALTH_BIND {bind!r} is not 0.0.0.0:<health port>")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        grpc = main.get(probe, {}).get("grpc")
        if grpc is None:
            problems.append(f"{deployment.label}: {probe} is not a gRPC probe")
        elif grpc.get("port") != health:
            problems.append(
                f"{deployment.label}: {probe} port {grpc.get('port')} is not the health port"
            )
        elif probe == "livenessProbe" and grpc.get("service") != "liveness":
            # The default health service is readiness: a broker outage would restart every pod.
            problems.append(
                f"{deployment.label}: livenessProbe does not ask for the 'liveness' health service"
            )
    return problems


TLS_FILES = {"TLS_CERT_FILE": "tls.crt", "TLS_KEY_FILE": "tls.key", "TLS_CA_FILE": "ca.crt"}


def tls_secret_mount(deployment: Manifest, container: Doc) -> tuple[str, str] | None:
    """(mount path, Secret name) of the container's mounted ``keel-<name>-tls`` Secret."""
    volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret", {}).get("secretName", "")
        if secret.startswith("keel-") and secret.endswith("-tls"):
            return mount["mountPath"], secret
    return None


def tls_problems(deployment: Manifest, main: Doc) -> list[str]:
    """TLS_* name the files of this workload's own certificate Secret, mounted read-only."""
    found = tls_secret_mount(deployment, main)
    if found is None:
        return [f"{deployment.label}: no keel-<workload>-tls Secret is mounted"]
    path, secret = found
    problems = []
    if secret != f"keel-{deployment.name}-tls":
        problems.append(f"{deployment.label}: mounts {secret}, not keel-{deployment.name}-tls")
    env = env_of(main)
    for variable, file in TLS_FILES.items():
        value = env.get(variable, {}).get("value")
        if value != f"{path}/{file}":
            problems.append(f"{deployment.label}: {variable} {value!r} is not {path}/{file}")
    return problems


def _env_problems(deployment: Manifest, main: Doc) -> list[str]:
    env = env_of(main)
    name = deployment.name
    problems = []
    wanted = {
        "GRPC_BIND",
        "DATABASE_URL",
        "NATS_URL",
        "NATS_STREAM_REPLICAS",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
    }
    wanted |= {"identity": {"REDIS_URL"}, "billing": {"LEDGER_TARGET"}}.get(name, set())
    for missing in sorted(wanted - set(env)):
        problems.append(f"{deployment.label}: env {missing} is missing")
    bind = env.get("GRPC_BIND", {}).get("value", "")
    host, _, port = bind.rpartition(":")
    if host != "0.0.0.0" or _port_number(main, "grpc") != int(port or 0):
        problems.append(f"{deployment.label}: GRPC_BIND {bind!r} is not 0.0.0.0:<grpc port>")
    if "secretKeyRef" not in env.get("DATABASE_URL", {}).get("valueFrom", {}):
        problems.append(f"{deployment.label}: DATABASE_URL does not come from a Secret")
    # Without it every thread's malloc arena keeps what the thread freed (argon2 buffers).
    arenas = env.get("MALLOC_ARENA_MAX", {}).get("value")
    if arenas != "2":
        problems.append(f"{deployment.label}: MALLOC_ARENA_MAX {arenas!r} is not '2'")
    return problems


def metrics_problems(manifests: list[Manifest], deployment: Manifest) -> list[str]:
    """METRICS_BIND on the `metrics` port, scrape annotations, a policy admitting Prometheus."""
    problems = []
    template = deployment.doc["spec"]["template"]
    main = next((c for c in template["spec"]["containers"] if c["name"] == deployment.name), {})
    port = _port_number(main, "metrics")
    if port != METRICS_PORT:
        problems.append(f"{deployment.label}: no container port `metrics` {METRICS_PORT}")
    bind = env_of(main).get("METRICS_BIND", {}).get("value", "")
    if bind != f"0.0.0.0:{METRICS_PORT}":
        problems.append(f"{deployment.label}: METRICS_BIND {bind!r} is not 0.0.0.0:{METRICS_PORT}")
    annotations = template["metadata"].get("annotations", {})
    wanted = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": METRICS_PATH,
    }
    for key, value in wanted.items():
        if annotations.get(key) != value:
            problems.append(f"{deployment.label}: pod annotation {key} is not {value!r}")
    if not _admits_monitoring(manifests, template["metadata"]["labels"], main):
        problems.append(
            f"{deployment.label}: no NetworkPolicy admits {MONITORING} to port {METRICS_PORT}"
        )
    return problems


def _admits_monitoring(manifests: list[Manifest], labels: Mapping[str, str], main: Doc) -> bool:
    for policy in by_kind(manifests, "NetworkPolicy"):
        spec = policy.doc["spec"]
        if not selects(spec.get("podSelector", {}), labels):
            continue
        for rule in spec.get("ingress", []):
            ports = {_port_number(main, p.get("port", 0)) for p in rule.get("ports", [])}
            sources = [peer.get("namespaceSelector") for peer in rule.get("from", [])]
            if METRICS_PORT in ports and any(
                source is not None and selects(source, MONITORING) for source in sources
            ):
                return True
    return False


MIGRATION_ENV = {
    "MIGRATION_DATABASE_URL",
    "DATABASE_URL",
    "DATA_ENCRYPTION_KEYS",
    "LOG_LEVEL",
    "PYTHONDONTWRITEBYTECODE",
}
"""All a migrate init container needs: the owner's URL (it migrates), the runtime role's
(it grants that role), the data keys (it reseals secrets) and the log level."""
# Only the migration holds the owner's password; the server has no such variable.
MIGRATION_ONLY_ENV = {"MIGRATION_DATABASE_URL"}


def stream_replicas_problems(manifests: list[Manifest], deployment: Manifest) -> list[str]:
    """NATS_STREAM_REPLICAS must be 1..5 and no more than the NATS servers that hold them."""
    raw = env_of(pod_spec(deployment)["containers"][0]).get("NATS_STREAM_REPLICAS", {})
    value = str(raw.get("value", ""))
    if not value.isdigit() or not 1 <= int(value) <= 5:
        return [f"{deployment.label}: NATS_STREAM_REPLICAS {value!r} is not 1..5"]
    nats = find(manifests, "StatefulSet", "nats")
    servers = nats.doc["spec"].get("replicas", 1) if nats is not None else 0
    if int(value) > servers:
        return [
            f"{deployment.label}: NATS_STREAM_REPLICAS {value} exceeds the {servers} NATS servers"
        ]
    return []


def _migration_problems(deployment: Manifest, main: Doc) -> list[str]:
    spec = pod_spec(deployment)
    migrations = [
        c
        for c in spec.get("initContainers", [])
        if c.get("command", [])[-3:] == ["-m", deployment.name, "migrate"]
    ]
    if not migrations:
        return [f"{deployment.label}: no init container runs `python -m {deployment.name} migrate`"]
    problems = []
    for init in migrations:
        # `python -m <svc> migrate` reads the database URL only; anything more is a sign
        # the command still loads the serving configuration.
        extra = sorted(set(env_of(init)) - MIGRATION_ENV)
        if extra:
            problems.append(f"{deployment.label}: migration env {extra} is not needed to migrate")
        if "DATABASE_URL" not in env_of(init):
            problems.append(f"{deployment.label}: migration env DATABASE_URL is missing")
        if init.get("image") != main.get("image"):
            problems.append(f"{deployment.label}: migration image differs from the server's")
        server_env = env_of(main)
        for name, entry in env_of(init).items():
            if name not in MIGRATION_ONLY_ENV and server_env.get(name) != entry:
                problems.append(f"{deployment.label}: migration {name} differs from the server's")
    return problems


def _shutdown_problems(deployment: Manifest, main: Doc) -> list[str]:
    grace = float(env_of(main).get("GRPC_GRACE_SECONDS", {}).get("value", 10))
    pre_stop = main.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    period = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
    if period <= grace + pre_stop:
        return [
            f"{deployment.label}: terminationGracePeriodSeconds {period} is not above "
            f"preStop {pre_stop} s + GRPC_GRACE_SECONDS {grace} s"
        ]
    return []


def scaling_problems(manifests: list[Manifest], deployment: Manifest) -> list[str]:
    """An autoscaling/v2 CPU HPA targets it and a policy/v1 PDB selects its pods."""
    problems = []
    labels = deployment.doc["spec"]["template"]["metadata"]["labels"]
    hpas = [
        h
        for h in by_kind(manifests, "HorizontalPodAutoscaler")
        if h.doc["spec"]["scaleTargetRef"]
        == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name}
    ]
    if not hpas:
        problems.append(f"{deployment.label}: no HorizontalPodAutoscaler targets it")
    for hpa in hpas:
        metrics = hpa.doc["spec"].get("metrics", [])
        if hpa.doc["apiVersion"] != "autoscaling/v2" or not any(
            m.get("resource", {}).get("name") == "cpu" for m in metrics
        ):
            problems.append(f"{hpa.label}: not an autoscaling/v2 CPU autoscaler")
    if "replicas" in deployment.doc["spec"]:
        problems.append(f"{deployment.label}: sets replicas although an HPA owns the count")
    pdbs = [
        p
        for p in by_kind(manifests, "PodDisruptionBudget")
        if p.doc["apiVersion"] == "policy/v1" and selects(p.doc["spec"]["selector"], labels)
    ]
    if not pdbs:
        problems.append(f"{deployment.label}: no policy/v1 PodDisruptionBudget selects its pods")
    for pdb in pdbs:
        spec = pdb.doc["spec"]
        if spec.get("minAvailable") != 1 and spec.get("maxUnavailable") != 1:
            problems.append(f"{pdb.label}: neither minAvailable 1 nor maxUnavailable 1")
    return problems


# -- addresses ---------------------------------------------------------------------------

_SERVICE_HOST = re.compile(
    rf"^(?P<name>[a-z0-9-]+)(?:\.(?P<ns>[a-z0-9-]+)(?:\.{re.escape(CLUSTER_DOMAIN)})?)?$"
)


def address_problems(manifests: list[Manifest], where: str, host: str, port: int) -> list[str]:
    """`host:port` must name a Service of ours in the namespace, exposing that port."""
    match = _SERVICE_HOST.match(host)
    if match is None or (match["ns"] or NAMESPACE) != NAMESPACE:
        return [f"{where}: {host} is not a Service in namespace {NAMESPACE}"]
    service = find(manifests, "Service", match["name"])
    if service is None:
        return [f"{where}: no Service {match['name']} for {host}"]
    if port not in [p["port"] for p in service.doc["spec"]["ports"]]:
        return [f"{where}: Service {service.name} does not expose port {port}"]
    return []


def split_url(url: str) -> tuple[str, int]:
    rest = url.partition("://")[2] or url
    hostport = rest.split("/", 1)[0].rpartition("@")[2]  # without user:password@
    host, _, port = hostport.rpartition(":")
    return host, int(port)


# -- NATS --------------------------------------------------------------------------------


def nats_problems(conf: str, statefulset: Manifest) -> list[str]:
    """JetStream fsyncs always, on the PVC, and routes name every StatefulSet pod."""
    problems = []
    jetstream = re.search(r"^jetstream\s*\{(?P<body>.*?)^\}", conf, re.S | re.M)
    if jetstream is None:
        return ["nats.conf: no jetstream block"]
    body = jetstream["body"]
    if not re.search(r"^\s*sync_interval\s*:\s*always\s*$", body, re.M):
        problems.append("nats.conf: jetstream has no `sync_interval: always`")
    store = re.search(r"^\s*store_dir\s*:\s*(\S+)\s*$", body, re.M)
    spec = statefulset.doc["spec"]
    replicas = spec.get("replicas", 1)
    if replicas != 3:
        problems.append(f"{statefulset.label}: {replicas} replicas, not 3")
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    mounts = {
        m["mountPath"]: m["name"]
        for c in containers(statefulset)
        for m in c.get("volumeMounts", [])
    }
    if store is None or mounts.get(store[1]) not in claims:
        problems.append("nats.conf: store_dir is not on a volumeClaimTemplate mount")
    routes = set(re.findall(r"nats://([a-z0-9.-]+):6222", conf))
    wanted = {
        f"{statefulset.name}-{i}.{spec['serviceName']}.{NAMESPACE}.{CLUSTER_DOMAIN}"
        for i in range(replicas)
    }
    if routes != wanted:
        problems.append(f"nats.conf: routes {sorted(routes)} are not {sorted(wanted)}")
    return problems


# -- NATS users -------------------------------------------------------------------------------


def dev_literals(secret: str) -> dict[str, str]:
    """The dev overlay's secretGenerator `secret` as kustomize builds it: key -> value, one
    surrounding pair of double quotes removed from each value (kustomize does that)."""
    generators = load_yaml(OVERLAYS / "dev" / "kustomization.yaml")["secretGenerator"]
    for generator in generators:
        if generator["name"] == secret:
            found = {}
            for literal in generator["literals"]:
                key, _, value = literal.partition("=")
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                found[key] = value
            return found
    raise AssertionError(f"the dev overlay generates no Secret {secret}")


def nats_dev_hashes() -> dict[str, str]:
    """The NATS servers' environment in the dev overlay: each user's hash variable."""
    import render_nats

    from keel_runtime.events.accounts import users

    hashes = dev_literals(render_nats.USERS_SECRET)
    return {render_nats.hash_variable(user): hashes[user] for user in users()}


def nats_user_problems(statefulset: Manifest, deployments: list[Manifest]) -> list[str]:
    """The servers read every user's hash from keel-nats-users; each service connects as
    itself with the password of its own Secret."""
    import render_nats

    from keel_runtime.events.accounts import SERVICES, users

    problems = []
    env = env_of(pod_spec(statefulset)["containers"][0])
    for user in users():
        variable = render_nats.hash_variable(user)
        ref = env.get(variable, {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref != {"name": render_nats.USERS_SECRET, "key": user}:
            problems.append(f"{statefulset.label}: {variable} is not {user} of keel-nats-users")
    for deployment in deployments:
        service = deployment.name
        if service not in SERVICES:
            continue
        main = pod_spec(deployment)["containers"][0]
        env = env_of(main)
        url = env.get("NATS_URL", {}).get("value", "")
        if not url.startswith(f"tls://{service}:$(NATS_PASSWORD)@"):
            problems.append(f"{deployment.label}: NATS_URL does not connect as {service} over TLS")
        if not set(TLS_FILES) <= set(env):
            problems.append(f"{deployment.label}: no certificate (TLS_*) to present to NATS")
        ref = env.get("NATS_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref != {"name": render_nats.client_secret(service), "key": "password"}:
            wanted = render_nats.client_secret(service)
            problems.append(f"{deployment.label}: NATS_PASSWORD is not from {wanted}")
        names = [item["name"] for item in main.get("env", [])]
        if "NATS_PASSWORD" in names and names.index("NATS_PASSWORD") > names.index("NATS_URL"):
            problems.append(f"{deployment.label}: NATS_PASSWORD must come before NATS_URL")
    return problems


# -- transport security of NATS and PostgreSQL ------------------------------------------------

NATS_TLS_SECRET = "keel-nats-tls"


def _block(conf: str, name: str, indent: str = "") -> str | None:
    found = re.search(rf"^{indent}{name}\s*\{{(?P<body>.*?)^{indent}\}}", conf, re.S | re.M)
    return found["body"] if found else None


def _setting(body: str, key: str) -> str | None:
    found = re.search(rf"^\s*{key}\s*:\s*(\S+)\s*$", body, re.M)
    return found[1] if found else None


def nats_tls_problems(
    conf: str, statefulset: Manifest, certificates: Mapping[str, Doc]
) -> list[str]:
    """Clients and routes speak mutual TLS with keel-nats-tls, clients handshake first, and
    the certificate names the hosts clients and routes dial."""
    problems = []
    mounts = {
        m["mountPath"]: m["name"]
        for c in containers(statefulset)
        for m in c.get("volumeMounts", [])
    }
    volumes = {
        v["name"]: v.get("secret", {}).get("secretName") for v in pod_spec(statefulset)["volumes"]
    }
    cluster = _block(conf, "cluster")
    for where, body, first in (
        ("clients", _block(conf, "tls"), True),
        ("routes", _block(cluster or "", "tls", r"\s+"), False),
    ):
        if body is None:
            problems.append(f"nats.conf: no tls block for {where}")
            continue
        if _setting(body, "verify") != "true":
            problems.append(f"nats.conf: {where} are not asked for a certificate (verify)")
        if first and _setting(body, "handshake_first") != "true":
            problems.append(f"nats.conf: {where} may be greeted in plaintext (handshake_first)")
        for key in ("cert_file", "key_file", "ca_file"):
            path = _setting(body, key) or ""
            directory = path.rpartition("/")[0]
            if volumes.get(mounts.get(directory, "")) != NATS_TLS_SECRET:
                problems.append(f"nats.conf: {where} {key} {path!r} is not in {NATS_TLS_SECRET}")
    spec = certificates.get("keel-nats", {}).get("spec", {})
    if spec.get("secretName") != NATS_TLS_SECRET:
        problems.append(f"Certificate keel-nats does not issue {NATS_TLS_SECRET}")
    headless = statefulset.doc["spec"]["serviceName"]
    wanted = {
        f"{statefulset.name}.{NAMESPACE}.{CLUSTER_DOMAIN}",
        f"*.{headless}.{NAMESPACE}.{CLUSTER_DOMAIN}",
    }
    if missing := sorted(wanted - set(spec.get("dnsNames", []))):
        problems.append(f"Certificate keel-nats: dnsNames lack {missing}")
    return problems


PG_CA_SECRET = "keel-pg-ca"
PG_CA_DIR = "/etc/keel/pg-ca"
PG_TLS_QUERY = f"sslmode=verify-full&sslrootcert={PG_CA_DIR}/ca.crt"


def postgres_tls_problems(cluster: Doc, deployments: list[Manifest]) -> list[str]:
    """The cluster refuses plaintext and names the host services dial; every container that
    reaches it mounts the cluster CA's certificate (and not its key) where the URLs read it."""
    problems = []
    spec = cluster["spec"]
    if "hostnossl all all all reject" not in spec.get("postgresql", {}).get("pg_hba", []):
        problems.append("Cluster: pg_hba does not refuse plaintext (hostnossl ... reject)")
    host = f"{cluster['metadata']['name']}-rw.{NAMESPACE}.{CLUSTER_DOMAIN}"
    if host not in spec.get("certificates", {}).get("serverAltDNSNames", []):
        problems.append(f"Cluster: the server certificate does not name {host}")
    for deployment in deployments:
        volumes = {v["name"]: v.get("secret", {}) for v in pod_spec(deployment)["volumes"]}
        for container in containers(deployment):
            if "DATABASE_URL" not in env_of(container):
                continue
            mounted = {
                m["mountPath"]: volumes.get(m["name"], {}) for m in container["volumeMounts"]
            }
            secret = mounted.get(PG_CA_DIR, {})
            if secret.get("secretName") != PG_CA_SECRET or secret.get("items") != [
                {"key": "ca.crt", "path": "ca.crt"}
            ]:
                problems.append(
                    f"{deployment.label} {container['name']}: {PG_CA_DIR} is not ca.crt of"
                    f" {PG_CA_SECRET} alone"
                )
    return problems
