"""dashboards/sequence-catalog/*.json are importable and only chart metrics the lab exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings

from apps.probes.sequence_drift import exported_metric_names

DASHBOARDS = sorted((Path(settings.BASE_DIR) / "dashboards" / "sequence-catalog").glob("*.json"))
SUFFIXES = ("_bucket", "_count", "_sum", "")


def test_one_dashboard_per_scenario():
    assert len(DASHBOARDS) == 4


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_importable_and_queries_exported_metrics(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"].startswith("pimlab-seq-") and dashboard["title"].startswith("Sequence: ")
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus" and dashboard["schemaVersion"] >= 30
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    exported = exported_metric_names()
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            names = re.findall(r"([a-z][a-z0-9_]*)\{", expr) + re.findall(r"(?<!by )\(([a-z][a-z0-9_]*)\)", expr)
            for name in names:
                bases = [name.removesuffix(s) for s in SUFFIXES if name.endswith(s)]
                queried.add(next((b for b in bases if b in exported), name))
    assert queried and queried <= exported
    texts = " ".join(p["options"]["content"] for p in dashboard["panels"] if p["type"] == "text")
    assert "Logs" in texts and "Traces" in texts and "docs/runbooks/" in texts
    for runbook in re.findall(r"`(docs/runbooks/[^`]+)`", texts):
        assert (Path(settings.BASE_DIR) / runbook).is_file(), runbook
