"""Renders deploy/monitoring/keel-dashboard.json: the Grafana dashboard of the Keel services.

    python deploy/monitoring/dashboard.py           # write it
    python deploy/monitoring/dashboard.py --check   # exit 1 when the committed file differs

Panels are declared here as data (title, unit, queries); ids and positions follow from the
order. Every query reads series the services serve themselves (keel_runtime.metrics,
keel_runtime.process_metrics), filtered by the dashboard's `service` variable;
deploy/tests/test_monitoring.py parses each one and checks the metrics it names.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent / "keel-dashboard.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SERVICE = 'service=~"$service"'
CALLS = f'{SERVICE}, method!~"/grpc[.](health|reflection)[.].*"'
FAULTS = 'code=~"UNKNOWN|INTERNAL|UNAVAILABLE|DATA_LOSS|DEADLINE_EXCEEDED|UNIMPLEMENTED"'
FAULTY_CALLS = f"{CALLS}, {FAULTS}"
RATE = "$__rate_interval"

Query = tuple[str, str]  # (PromQL, legend)
Panel = tuple[str, str, list[Query]]  # (title, unit, queries)


def _rate(counter: str, selector: str) -> str:
    return f"rate({counter}{{{selector}}}[{RATE}])"


def _quantile(q: float, histogram: str, selector: str) -> str:
    return (
        f"histogram_quantile({q}, sum by (service, le) "
        f"(rate({histogram}_bucket{{{selector}}}[{RATE}])))"
    )


ROWS: list[tuple[str, list[Panel]]] = [
    (
        "Calls",
        [
            (
                "Calls per second, by status code",
                "reqps",
                [
                    (
                        f"sum by (service, code) ({_rate('keel_rpc_requests_total', CALLS)})",
                        "{{service}} {{code}}",
                    )
                ],
            ),
            (
                "Server faults (share of calls)",
                "percentunit",
                [
                    (
                        f"sum by (service) ({_rate('keel_rpc_requests_total', FAULTY_CALLS)})"
                        f" / sum by (service) ({_rate('keel_rpc_requests_total', CALLS)})",
                        "{{service}}",
                    )
                ],
            ),
            (
                "Call duration in the server, p50 and p99",
                "s",
                [
                    (_quantile(0.5, "keel_rpc_duration_seconds", CALLS), "{{service}} p50"),
                    (_quantile(0.99, "keel_rpc_duration_seconds", CALLS), "{{service}} p99"),
                ],
            ),
        ],
    ),
    (
        "Events",
        [
            (
                "Outbox: rows waiting",
                "short",
                [(f"keel_outbox_unpublished{{{SERVICE}}}", "{{service}}")],
            ),
            (
                "Outbox: oldest waiting row",
                "s",
                [(f"keel_outbox_oldest_unpublished_age_seconds{{{SERVICE}}}", "{{service}}")],
            ),
            (
                "Events published per second",
                "ops",
                [
                    (
                        f"sum by (service) ({_rate('keel_outbox_published_total', SERVICE)})",
                        "{{service}}",
                    )
                ],
            ),
            (
                "Deliveries settled per second, by outcome",
                "ops",
                [
                    (
                        "sum by (consumer, outcome) "
                        f"(rate(keel_consumer_messages_total{{{SERVICE}}}[{RATE}]))",
                        "{{consumer}} {{outcome}}",
                    )
                ],
            ),
            (
                "Consumer backlog",
                "short",
                [
                    (
                        f"max by (consumer) (keel_consumer_pending_messages{{{SERVICE}}})",
                        "{{consumer}} not delivered",
                    ),
                    (
                        f"max by (consumer) (keel_consumer_ack_pending_messages{{{SERVICE}}})",
                        "{{consumer}} not acknowledged",
                    ),
                ],
            ),
            (
                "Dead-lettered in the last hour",
                "short",
                [
                    (
                        "sum by (consumer) (increase(keel_consumer_messages_total"
                        f'{{{SERVICE}, outcome="dead_lettered"}}[1h]))',
                        "{{consumer}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Processes",
        [
            (
                "CPU (cores)",
                "short",
                [
                    (
                        f"rate(process_cpu_seconds_total{{{SERVICE}}}[{RATE}])",
                        "{{service}} {{instance}}",
                    )
                ],
            ),
            (
                "Resident memory",
                "bytes",
                [(f"process_resident_memory_bytes{{{SERVICE}}}", "{{service}} {{instance}}")],
            ),
            (
                "Event loop lag, p99",
                "s",
                [(_quantile(0.99, "keel_event_loop_lag_seconds", SERVICE), "{{service}}")],
            ),
            (
                "Garbage collections per second",
                "ops",
                [
                    (
                        "sum by (service, generation) "
                        f"(rate(python_gc_collections_total{{{SERVICE}}}[{RATE}]))",
                        "{{service}} gen {{generation}}",
                    )
                ],
            ),
            (
                "Open file descriptors",
                "short",
                [(f"process_open_fds{{{SERVICE}}}", "{{service}} {{instance}}")],
            ),
            (
                "Restarts in the last hour",
                "short",
                [
                    (
                        f"changes(process_start_time_seconds{{{SERVICE}}}[1h])",
                        "{{service}} {{instance}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Dependencies",
        [
            (
                "Ready instances",
                "short",
                [(f"sum by (service) (keel_health_serving{{{SERVICE}}})", "{{service}}")],
            ),
            (
                "Database pool",
                "short",
                [
                    (
                        f"sum by (service) (keel_db_pool_checked_out{{{SERVICE}}})",
                        "{{service}} in use",
                    ),
                    (f"sum by (service) (keel_db_pool_size{{{SERVICE}}})", "{{service}} size"),
                ],
            ),
            (
                "NATS: bytes not yet sent",
                "bytes",
                [(f"keel_nats_pending_bytes{{{SERVICE}}}", "{{service}} {{instance}}")],
            ),
            (
                "Periodic job failures in the last hour",
                "short",
                [
                    (
                        "sum by (service, job) "
                        f'(increase(keel_job_runs_total{{{SERVICE}, outcome="failed"}}[1h]))',
                        "{{service}} {{job}}",
                    )
                ],
            ),
        ],
    ),
]

PANEL_WIDTH, PANEL_HEIGHT, GRID_WIDTH = 8, 8, 24


def _panel(panel_id: int, panel: Panel, x: int, y: int) -> dict[str, Any]:
    title, unit, queries = panel
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for n, (expr, legend) in enumerate(queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for title, members in ROWS:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        for n, member in enumerate(members):
            x = (n * PANEL_WIDTH) % GRID_WIDTH
            if n and x == 0:
                y += PANEL_HEIGHT
            panels.append(_panel(len(panels) + 1, member, x, y))
        y += PANEL_HEIGHT
    return {
        "uid": "keel-services",
        "title": "Keel services",
        "description": "Calls, events, processes and dependencies of the Keel services.",
        "tags": ["keel"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "utc",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                },
                {
                    "name": "service",
                    "label": "Service",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "definition": "label_values(keel_health_serving, service)",
                    "query": {
                        "query": "label_values(keel_health_serving, service)",
                        "refId": "service",
                    },
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "current": {"text": "All", "value": "$__all"},
                },
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run python deploy/monitoring/dashboard.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
