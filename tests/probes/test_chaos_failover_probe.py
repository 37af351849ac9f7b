"""The fourth scenario's probe on the safe chaos path: the failover manifest's dry run, then its
steady state when the lab has an HA pair; a manifest that fails its dry run fails the probe."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from apps.probes.chaos_probe import FAILOVER_MANIFEST, probe_chaos_failover_run
from apps.probes.models import CHAOS_FAILOVER, ProbeOutcome, ProbeResult

pytestmark = pytest.mark.django_db(databases="__all__")
EXPERIMENTS = Path(settings.BASE_DIR) / "chaos" / "experiments"


def test_without_an_ha_pair_the_dry_run_passes_and_the_steady_state_is_skipped(settings, tmp_path, live_server):
    settings.PIMLAB_HA_DIR = str(tmp_path / "no-ha-lab")
    result = probe_chaos_failover_run(base_url=live_server.url)
    assert result.scenario == CHAOS_FAILOVER and result.shard_alias == "pimlab-ha"
    assert result.outcome == ProbeOutcome.SKIPPED and "no HA pair" in result.skip_reason, result.error
    assert list(result.step_latencies) == ["manifest_dry_run"] and result.trace_id
    assert result.resource_ids == {"manifest": FAILOVER_MANIFEST}
    assert ProbeResult.objects.filter(pk=result.pk).exists()


def test_a_manifest_that_fails_its_dry_run_fails_the_probe(settings, tmp_path, live_server):
    folder = tmp_path / "experiments"
    folder.mkdir()
    shutil.copy(EXPERIMENTS / FAILOVER_MANIFEST, folder / FAILOVER_MANIFEST)
    broken = (folder / FAILOVER_MANIFEST).read_text().replace("action: ha_switchover", "action: ha_no_such_action")
    (folder / FAILOVER_MANIFEST).write_text(broken)
    settings.PIMLAB_CHAOS_EXPERIMENTS_DIR = str(folder)
    labels = {"scenario": CHAOS_FAILOVER, "outcome": "failure", "shard_id": "pimlab-ha"}
    before = REGISTRY.get_sample_value("synthetic_probe_duration_seconds_count", labels) or 0
    result = probe_chaos_failover_run(base_url=live_server.url)
    assert result.outcome == ProbeOutcome.FAILURE and result.failed_step == "manifest_dry_run"
    assert "ha_no_such_action" in result.error
    assert REGISTRY.get_sample_value("synthetic_probe_duration_seconds_count", labels) == before + 1
