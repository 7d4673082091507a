"""``docs/grafana-dashboard.json`` against a real hub's ``/metrics``: it is a Grafana
dashboard (panels with Prometheus targets, a datasource variable every panel uses), every
metric its expressions and variables name is one the hub exports, with labels that metric
has, and every metric of the hub's own is on some panel."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.scrape import Scrape, scrape
from tests.support.server import new_user, run_hub
from tests.support.tabs import answer, wait_pending, wait_status
from tether import Context, Hub
from tether.config import Settings

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
# Labels Prometheus adds to every series it scrapes, and the bucket bound.
SCRAPE_LABELS = {"instance", "job"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless"}
hub_def = Hub()


@hub_def.task()
async def approve(ctx: Context) -> bool:
    return await ctx.confirm("Ship it?")


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def graph_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression: the panels' targets and the query variables'."""
    found = [t["expr"] for p in graph_panels(dashboard) for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append(variable["query"]["query"])
    return found


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """``(metric, labels its matchers name)`` for every metric an expression reads.

    PromQL written the way this dashboard writes it: strings hold no braces, and a
    function call is a name followed by ``(``.
    """
    text = re.sub(r"\$\{?\w+\}?", "", re.sub(r'"[^"]*"', '""', expr))
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"^label_values\(|,\s*\w+\)$", " ", text)  # label_values(metric, label)
    found = []
    for match in re.finditer(r"\b([a-zA-Z_:][\w:]*)\b(?!\s*\()\s*(\{[^}]*\})?", text):
        name, matchers = match.group(1), match.group(2) or ""
        if name in KEYWORDS or re.fullmatch(r"[0-9.e+-]+", name):
            continue
        found.append((name, set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))))
    return found


def grouping_labels(expr: str) -> set[str]:
    """The labels ``by (...)``, ``on (...)`` and ``group_left (...)`` name."""
    lists = re.findall(r"\b(?:by|on|group_left|group_right)\s*\(([^)]*)\)", expr)
    return {label.strip() for part in lists for label in part.split(",") if label.strip()}


def test_it_is_a_grafana_dashboard_with_a_prometheus_datasource_variable() -> None:
    dashboard = load()
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    source = variables["datasource"]
    assert source["type"] == "datasource" and source["query"] == "prometheus"
    uses = {"type": "prometheus", "uid": "${datasource}"}
    panels = graph_panels(dashboard)
    assert len(panels) >= 12
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels:
        assert panel["title"] and panel["type"] in {"timeseries", "stat", "bargauge", "gauge"}
        assert panel["datasource"] == uses, panel["title"]
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == uses and target["expr"].strip()
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert target["expr"].count("{") == target["expr"].count("}"), target["expr"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == uses


def test_the_expression_reader_finds_metrics_and_their_matchers() -> None:
    """The reader the next test relies on: it would miss nothing in these."""
    expr = ('histogram_quantile(0.9, sum by (le, kind) (rate(tether_x_bucket{outcome="a", '
            'task=~"$task"}[1h]))) / on (instance) group_left (hub) tether_hub_info')
    assert selectors(expr) == [("tether_x_bucket", {"outcome", "task"}),
                               ("tether_hub_info", set())]
    assert grouping_labels(expr) == {"le", "kind", "instance", "hub"}
    assert selectors("label_values(tether_hub_info, instance)") == [("tether_hub_info", set())]
    assert selectors("sum(rate(no_such_metric[5m])) * 60") == [("no_such_metric", set())]


@pytest.fixture
async def exported() -> Scrape:
    """A hub's scrape after a question was answered (so the labelled histograms have
    series, and their labels show)."""
    async with run_hub(Settings(static_dir=None), hub_def) as running, \
            new_user(running) as user:
        sid = (await user.start("approve"))["id"]
        [pending] = await wait_pending(user, sid, "confirm")
        assert (await answer(user, sid, pending["request_id"], True)).status_code == 200
        await wait_status(user, sid)
        return await scrape(user.http)


async def test_every_metric_and_label_it_names_is_exported(exported: Scrape) -> None:
    names = exported.sample_names()
    read: set[str] = set()
    for expr in expressions(load()):
        found = selectors(expr)
        assert found, expr
        labels: set[str] = set(SCRAPE_LABELS)
        for metric, matched in found:
            assert metric in names, f"{metric} (in {expr}) is not exported"
            have = exported.labels_of(metric) | SCRAPE_LABELS
            assert matched <= have, f"{metric} has no label {matched - have} (in {expr})"
            labels |= have
            read.add(metric)
        assert grouping_labels(expr) <= labels, expr
    # In the text format a counter's or histogram's _created is a gauge of its own.
    ours = {name for name in exported.families
            if name.startswith("tether_") and not name.endswith("_created")}
    shown = {exported.family_of(metric).name for metric in read} & ours
    assert shown == ours, f"not on the dashboard: {sorted(ours - shown)}"
