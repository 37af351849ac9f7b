"""dashboards/financial-dashboard.json is importable and only charts metrics the app exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import apps.claims.metrics
import apps.projections.metrics  # noqa: F401

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "financial-dashboard.json"
PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "increase",
    "max",
    "histogram_quantile",
    "le",
    "outcome",
    "event_type",
    "projection",
    "rule",
    "action",
    "stream",
}


def exported_sample_names() -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {f"{metric.name}{suffix}" for metric in REGISTRY.collect() for suffix in suffixes.get(metric.type, ("",))}


def test_dashboard_is_importable_and_uses_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    exported = exported_sample_names()
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expression = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', "", target["expr"])
            used |= {word for word in re.findall(r"[a-z_]+", expression) if word not in PROMQL_WORDS}
    assert used, "no metric found"
    assert used <= exported, used - exported
    for required in ("claim_projection_staleness", "projection_worker_lag_seconds", "claim_submit_latency_bucket"):
        assert required in used
