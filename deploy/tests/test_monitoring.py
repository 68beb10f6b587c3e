"""deploy/monitoring offline: the alert rules and the Grafana dashboard are valid PromQL
(Prometheus' grammar, through the promql-parser package) and ask only for series the
services really serve, with labels those series have."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import promql_parser
import pytest
import yaml
from k8s_model import DEPLOY, ROOT
from nats.aio.client import Client as Nats

from keel_runtime.db import create_engine
from keel_runtime.metrics import Metrics

MONITORING = DEPLOY / "monitoring"
RULES = MONITORING / "alerts.yaml"
DASHBOARD = MONITORING / "keel-dashboard.json"
# Labels Prometheus adds when it scrapes a pod (kubernetes_sd relabelling), and the name.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "container", "__name__"})
# What the rules must watch (issue: error ratio, latency p99, consumer lag and dead letters,
# relay backlog, restarts, event-loop lag).
REQUIRED_ALERTS = {
    "KeelHighErrorRatio": "keel_rpc_requests_total",
    "KeelHighLatencyP99": "keel_rpc_duration_seconds_bucket",
    "KeelConsumerLag": "keel_consumer_pending_messages",
    "KeelDeadLetters": "keel_consumer_messages_total",
    "KeelOutboxBacklog": "keel_outbox_oldest_unpublished_age_seconds",
    "KeelServiceRestarting": "process_start_time_seconds",
    "KeelEventLoopLag": "keel_event_loop_lag_seconds_bucket",
}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m"}


def exported() -> dict[str, frozenset[str]]:
    """Sample name -> label names, as a service's /metrics serves them: the runtime's
    Metrics with one series of every family (the families exist before any series does)."""
    metrics = Metrics("ledger")
    metrics.rpc("/keel.ledger.v1.AccountService/GetAccount").record(grpc.StatusCode.OK, 0.01)
    outbox = metrics.outbox()
    outbox.published.inc()
    outbox.unpublished.set(0)
    outbox.oldest_unpublished_age.set(0)
    consumer = metrics.consumer("ledger-open-wallet")
    consumer.handled.inc()
    consumer.pending.set(0)
    consumer.ack_pending.set(0)
    metrics.redrive("ledger-open-wallet").redriven.inc()
    job = metrics.job("expire_holds")
    job.runs_succeeded.inc()
    job.items_succeeded.inc()
    job.items_backing_off.set(0)
    metrics.principal_refused("PRINCIPAL_FROM_UNTRUSTED_PEER", None)
    metrics.serving().set(1)
    metrics.loop_lag().observe(0.001)
    # The pool and client figures are read at scrape: nothing connects here.
    metrics.watch(database=create_engine("postgresql://keel@127.0.0.1:9/keel"), nats=Nats())
    found: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        assert family.samples, f"{family.name}: give it a series above, or it goes unchecked"
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in found.items()}


EXPORTED = exported()


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _walk(child)
    for arg in getattr(node, "args", None) or ():
        yield from _walk(arg)


def _labels_used(node: Any) -> set[str]:
    used: set[str] = set()
    modifier = getattr(node, "modifier", None)
    if isinstance(node, promql_parser.AggregateExpr) and modifier is not None:
        used.update(modifier.labels)
    if isinstance(node, promql_parser.BinaryExpr) and modifier is not None:
        if modifier.matching is not None:
            used.update(modifier.matching.labels)
        used.update(modifier.group_labels or ())
    if isinstance(node, promql_parser.VectorSelector):
        matchers = node.matchers
        used.update(m.name for m in matchers.matchers)
        for group in matchers.or_matchers or ():
            used.update(m.name for m in group)
    return used


def problems(expr: str) -> list[str]:
    """Why ``expr`` would not work against the services' series; [] when it would."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    try:
        tree = promql_parser.parse(expr)
    except ValueError as error:
        return [f"not PromQL: {error}"]
    found: list[str] = []
    names: set[str] = set()
    labels: set[str] = set()
    for node in _walk(tree):
        labels |= _labels_used(node)
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                found.append(f"a selector without a metric name: {node}")
            elif node.name not in EXPORTED:
                found.append(f"{node.name} is not served by the services")
            else:
                names.add(node.name)
    known = TARGET_LABELS.union(*(EXPORTED[name] for name in names)) if names else TARGET_LABELS
    found += [f"label {label!r} is on none of {sorted(names)}" for label in labels - known]
    return found


def test_the_checker_catches_what_it_is_for() -> None:
    assert problems('sum by (service) (rate(keel_rpc_requests_total{code="OK"}[5m]))') == []
    assert problems("rate(keel_rpc_request_total[5m])") == [
        "keel_rpc_request_total is not served by the services"
    ]
    assert problems("sum by (tenant) (keel_health_serving)") == [
        "label 'tenant' is on none of ['keel_health_serving']"
    ]
    assert problems("rate(keel_rpc_requests_total[5m]") != []  # unbalanced
    assert problems("histogram_quantile(0.99, keel_rpc_duration_seconds_bucket) > ") != []


# -- alert rules ---------------------------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _anchors(markdown: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    headings = re.findall(r"^#+ (.+)$", markdown.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_the_rules_file_has_the_shape_prometheus_loads() -> None:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names))
    for group in document["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"Keel[A-Z][A-Za-z0-9]+", rule["alert"])
            assert re.fullmatch(r"\d+[smhd]", rule.get("for", "0m")), rule["alert"]


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_asks_for_served_series(rule: dict[str, Any]) -> None:
    assert problems(rule["expr"]) == []
    assert rule["labels"]["severity"] in ("page", "ticket")
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    page, _, anchor = rule["annotations"]["runbook"].partition("#")
    assert anchor in _anchors(ROOT / page), f"{rule['alert']}: {page} has no #{anchor}"


def test_the_rules_watch_what_operators_need() -> None:
    rules = {rule["alert"]: rule for rule in _rules()}
    assert len(rules) == len(_rules()), "alert names must be unique"
    for alert, metric in REQUIRED_ALERTS.items():
        assert alert in rules, f"no {alert}"
        assert metric in rules[alert]["expr"], f"{alert} no longer watches {metric}"


# -- dashboard -----------------------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keel_dashboard", MONITORING / "dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads(DASHBOARD.read_text())["panels"]
    return panels


def test_the_committed_dashboard_is_the_rendered_one() -> None:
    assert DASHBOARD.read_text() == _generator().render(), (
        "run python deploy/monitoring/dashboard.py"
    )


def test_the_dashboard_has_its_variables_and_a_grid_without_overlaps() -> None:
    model = json.loads(DASHBOARD.read_text())
    assert model["uid"] and model["title"]
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    # The service picker lists the values of a label every service serves.
    assert variables["service"]["definition"] == "label_values(keel_health_serving, service)"
    assert "service" in EXPORTED["keel_health_serving"]
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine


@pytest.mark.parametrize(
    "panel", [p for p in _panels() if p["type"] != "row"], ids=lambda panel: panel["title"]
)
def test_every_panel_asks_for_served_series(panel: dict[str, Any]) -> None:
    assert panel["datasource"]["uid"] == "${datasource}"
    targets = panel["targets"]
    assert targets and len({t["refId"] for t in targets}) == len(targets)
    for target in targets:
        assert problems(target["expr"]) == [], target["expr"]
        assert 'service=~"$service"' in target["expr"]  # the dashboard's service filter
