"""The Grafana dashboard: valid JSON on a Prometheus datasource variable, and every query names
only series (and labels) the API's and the worker's /metrics really export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.telemetry.conftest import Scenario
from tests.telemetry.exposition import Exposition
from tests.telemetry.promql import read_query

DASHBOARD = Path(__file__).parents[2] / "temporal-dev" / "grafana" / "signoff-dashboard.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
# label_values(metric, label) in a variable's query.
_LABEL_VALUES = re.compile(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)")


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every panel target and query variable."""
    found = [(p["title"], t["expr"]) for p in _panels() for t in p["targets"]]
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"${variable['name']}", variable["definition"]))
    return found


def test_the_dashboard_is_grafana_json_on_a_prometheus_variable() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 36  # Grafana 9.x/10+ dashboards
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    panels = _panels()
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    titles = {p["title"] for p in panels}
    for wanted in ("API latency", "SLA breaches by template", "Invoices by status"):
        assert wanted in titles


def test_the_query_reader_finds_names_and_labels() -> None:
    query = read_query(
        'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{status=~"5.."}'
        "[$__rate_interval]))) / on (route) sum(b_total) + c"
    )
    assert query.names == {"a_bucket", "b_total", "c"}
    assert query.matched == {"a_bucket": {"status"}}
    assert query.grouped == {"le", "route"}


def _check(title: str, expr: str, exported: Exposition, problems: list[str]) -> None:
    query = read_query(expr)
    assert query.names, f"{title}: no metric in {expr}"
    for name in query.names - exported.names():
        problems.append(f"{title}: {name} is not exported")
    labels = set().union(*(exported.labels(name) for name in query.names))
    for name, matched in query.matched.items():
        for label in matched - exported.labels(name):
            problems.append(f"{title}: {name} has no label {label}")
    for label in query.grouped - labels:
        problems.append(f"{title}: no metric of the query has the label {label}")


def test_every_query_names_exported_series(scenario: Scenario) -> None:
    exported = Exposition(
        samples=scenario.api_metrics.samples | scenario.worker_metrics.samples,
        families=scenario.api_metrics.families | scenario.worker_metrics.families,
    )
    problems: list[str] = []
    for title, expr in _queries():
        for name, label in _LABEL_VALUES.findall(expr):
            if label not in exported.labels(name):
                problems.append(f"{title}: {name} has no label {label}")
        _check(title, _LABEL_VALUES.sub(lambda m: m.group(1), expr), exported, problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "expr", ["sum(signoff_no_such_metric)", 'sum by (nope) (signoff_requests{status="X"})']
)
def test_a_query_on_something_not_exported_is_caught(scenario: Scenario, expr: str) -> None:
    exported = scenario.api_metrics
    problems: list[str] = []
    _check("probe", expr, exported, problems)
    assert problems
