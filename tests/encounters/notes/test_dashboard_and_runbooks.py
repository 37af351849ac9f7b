"""The dashboard and runbooks of the scenario only reference metrics the code exports."""

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import apps.audits.metrics
import apps.encounters.notes.telemetry  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]
SEED_METRICS = {"encounter_note_update_duration", "audit_event_write_total"}


def _exported_names() -> set[str]:
    # Every series name a registered collector can expose (counters: _total; histograms: _bucket/_count/_sum).
    return {name for names in REGISTRY._collector_to_names.values() for name in names}


def test_dashboard_is_importable_and_uses_exported_metrics():
    dashboard = json.loads((ROOT / "dashboards/clinician-documentation.json").read_text())
    assert dashboard["title"] and dashboard["panels"]
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    used = {
        name
        for expr in exprs
        for name in re.findall(
            r"\b([a-z_]+(?:_total|_bucket|_count|_seconds|_depth|_available|_broken|_duration))\b", expr
        )
    }
    assert {re.sub(r"_(bucket|count)$", "", name) for name in used} >= SEED_METRICS
    missing = {name for name in used if name not in _exported_names() and name not in {"histogram_quantile"}}
    assert missing == set()


def test_runbooks_exist_and_name_the_signals():
    audit = (ROOT / "docs/runbooks/11_audit-log-degradation.md").read_text()
    history = (ROOT / "docs/runbooks/07_temporal-history-repair.md").read_text()
    for signal in ("audit_buffer_depth", "audit_buffer_oldest_age_seconds", "audit_verify", "NFR-09", "NFR-20"):
        assert signal in audit
    for signal in ("temporal_history_write_failed", "temporal_history_write_failures_total", "503"):
        assert signal in history
