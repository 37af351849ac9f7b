"""The shipped synthetic-probe SLO reads the probe metrics: failures spend budget, chaos skips do not."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.probes.services import probe_result_record
from apps.slo.services import slo_evaluate_all
from tests.slo.conftest import EPOCH, spec_dir  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(databases="__all__")
SPEC = Path(settings.BASE_DIR) / "slo" / "specs" / "synthetic-probe-success.yaml"


def record(outcome: str, scenario: str = "encounter_booking") -> None:
    now = timezone.now()
    probe_result_record(
        scenario=scenario,
        shard_alias="shard_0",
        outcome=outcome,
        started_at=now,
        finished_at=now,
        duration_seconds=1.0,
        base_url="http://127.0.0.1:8000",
    )


def test_probe_failures_spend_budget_and_skips_do_not(spec_dir):  # noqa: F811
    shutil.copy(SPEC, spec_dir.path / SPEC.name)
    slo_evaluate_all(at=EPOCH)  # baseline sample
    for outcome in ("success", "success", "success", "failure", "skipped", "skipped"):
        record(outcome, scenario="claim_submission")
    status = next(
        s for s in slo_evaluate_all(at=EPOCH + timedelta(minutes=10)) if s["name"] == "synthetic-probe-success"
    )
    assert status["events"] == {"total": 4.0, "bad": 1.0}
    assert status["attainment"] == pytest.approx(0.75)
