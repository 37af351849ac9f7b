"""Chaos-safe schedules: a probe inside a running experiment's blast radius is recorded as skipped."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from apps.chaos.models import RunStatus
from apps.probes.chaos_guard import chaos_cover, target_covers
from apps.probes.models import ProbeOutcome, ProbeResult, ProbeScenario
from apps.probes.personas import probe_identities
from apps.probes.runner import probe_run
from tests.chaos.conftest import approved_run
from tests.support.network import unused_port

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_probe_on_the_shard_under_chaos_is_skipped_with_the_run_named(probe_world):
    run = approved_run()  # blast radius: shard_1
    assert run.status == RunStatus.RUNNING
    by_shard = {i.shard_alias: i for i in probe_identities()}
    before = (
        REGISTRY.get_sample_value(
            "synthetic_probe_duration_seconds_count",
            {"scenario": "encounter_booking", "outcome": "skipped", "shard_id": "shard_1"},
        )
        or 0.0
    )

    # No server listens: a probe that ran would fail; a skipped one never calls out.
    result = probe_run(
        scenario=ProbeScenario.ENCOUNTER_BOOKING,
        identity=by_shard["shard_1"],
        base_url=f"http://127.0.0.1:{unused_port()}",
    )
    assert result.outcome == ProbeOutcome.SKIPPED and result.chaos_run_id == run.pk
    assert f"chaos run {run.pk}" in result.skip_reason and "shard:shard_1" in result.skip_reason
    assert result.step_latencies == {} and result.trace_id == ""
    assert (
        REGISTRY.get_sample_value(
            "synthetic_probe_duration_seconds_count",
            {"scenario": "encounter_booking", "outcome": "skipped", "shard_id": "shard_1"},
        )
        == before + 1
    )
    # The other shard is outside the blast radius: its probe runs (and fails here, with no server).
    other = probe_run(
        scenario=ProbeScenario.ENCOUNTER_BOOKING,
        identity=by_shard["shard_0"],
        base_url=f"http://127.0.0.1:{unused_port()}",
    )
    assert other.outcome == ProbeOutcome.FAILURE

    run.status = RunStatus.COMPLETED
    run.save()
    assert chaos_cover(scenario=ProbeScenario.ENCOUNTER_BOOKING, shard_alias="shard_1") is None
    assert ProbeResult.objects.filter(outcome=ProbeOutcome.SKIPPED).count() == 1


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("target", "scenario", "shard", "covered"),
    [
        ({"kind": "shard", "name": "shard_1"}, "encounter_booking", "shard_1", True),
        ({"kind": "shard", "name": "shard_1"}, "encounter_booking", "shard_0", False),
        ({"kind": "ha_cluster", "name": "pimlab-ha"}, "claim_submission", "shard_0", True),
        ({"kind": "component", "name": "projection_worker"}, "claim_submission", "shard_0", True),
        ({"kind": "component", "name": "projection_worker"}, "encounter_booking", "shard_0", False),
        ({"kind": "component", "name": "eventbus"}, "clinical_documentation", "shard_0", True),
        ({"kind": "component", "name": "something_new"}, "encounter_booking", "shard_0", True),
    ],
)
def test_blast_radius_coverage(target, scenario, shard, covered):
    assert target_covers(target, scenario=scenario, shard_alias=shard) is covered
