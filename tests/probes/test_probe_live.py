"""Synthetic probes against a live HTTP server (pytest-django's live_server on the test databases),
the outbox relay and the projection consumer draining beside it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from apps.encounters.models import Encounter, EncounterStatus
from apps.probes.models import ProbeOutcome, ProbeResult, ProbeScenario, ProbeTarget
from apps.probes.personas import probe_identities, probe_personas_ensure
from apps.probes.runner import probe_run
from apps.projections.models import ClaimFact
from apps.telemetry.tracing import span_store
from tests.support.network import unused_port

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_probe_setup_is_idempotent_and_covers_every_shard(probe_world, settings):
    first = {t.shard_alias: t.patient_id for t in probe_world}
    assert set(first) == set(settings.SHARD_ALIASES)
    call_command("probe_setup")
    again = {t.shard_alias: t.patient_id for t in probe_personas_ensure()}
    assert again == first and ProbeTarget.objects.count() == len(settings.SHARD_ALIASES)
    from apps.core.resolver import resolver

    for alias, patient_id in first.items():
        assert resolver.shard_for_id(patient_id) == alias
    identities = probe_identities()
    assert len({i.patient_token for i in identities}) == len(settings.SHARD_ALIASES)


@pytest.mark.parametrize("scenario", ProbeScenario.values)
def test_each_scenario_succeeds_end_to_end_on_every_shard(probe_world, pipeline_workers, live_server, scenario):
    span_store.clear()
    for identity in probe_identities():
        before = sample("synthetic_probe_success_total", scenario=scenario, shard_id=identity.shard_alias)
        result = probe_run(scenario=scenario, identity=identity, base_url=live_server.url)
        assert result.outcome == ProbeOutcome.SUCCESS, (result.failed_step, result.error)
        assert ProbeResult.objects.filter(pk=result.pk, scenario=scenario).exists()
        assert list(result.step_latencies)[:2] == ["book_encounter", "event_published"]
        assert all(seconds >= 0 for seconds in result.step_latencies.values())
        after = sample("synthetic_probe_success_total", scenario=scenario, shard_id=identity.shard_alias)
        assert after == before + 1
        # The server's spans joined the probe's trace through the traceparent header.
        server_spans = {s.name for s in span_store.trace(result.trace_id)}
        assert {"Synthetic Probe", "API Gateway"} <= server_spans
        encounter = Encounter.objects.using(identity.shard_alias).get(pk=int(result.resource_ids["encounter_id"]))
        assert encounter.patient_id == identity.patient_id
        if scenario == ProbeScenario.CLINICAL_DOCUMENTATION:
            assert encounter.note_version == 1 and encounter.note_status == "draft"
            assert "note_update" in result.step_latencies
        if scenario == ProbeScenario.CLAIM_SUBMISSION:
            assert encounter.status == EncounterStatus.FINISHED
            assert ClaimFact.objects.filter(claim_id=int(result.resource_ids["claim_id"])).exists()
            assert "financial_dashboard" in result.step_latencies


def test_a_broken_step_is_recorded_as_failure_with_the_step_and_status(probe_world, live_server, caplog):
    identity = probe_identities()[0]
    broken = type(identity)(**{**identity.__dict__, "patient_token": "not-a-token"})
    result = probe_run(scenario=ProbeScenario.ENCOUNTER_BOOKING, identity=broken, base_url=live_server.url)
    assert result.outcome == ProbeOutcome.FAILURE
    assert result.failed_step == "book_encounter" and "HTTP 401" in result.error
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    line = next(m for m in logged if m.get("event") == "synthetic_probe_finished")
    assert line["outcome"] == "failure" and line["failed_step"] == "book_encounter"
    assert line["trace_id"] == result.trace_id and line["shard_id"] == identity.shard_alias
    assert line["persona"] == "synthetic_probe" and line["actor_role"] == "system"
    assert (
        sample(
            "synthetic_probe_duration_seconds_count",
            scenario="encounter_booking",
            outcome="failure",
            shard_id=identity.shard_alias,
        )
        >= 1
    )


def test_unreachable_server_is_a_failure_not_a_crash(probe_world):
    identity = probe_identities()[0]
    result = probe_run(
        scenario=ProbeScenario.ENCOUNTER_BOOKING, identity=identity, base_url=f"http://127.0.0.1:{unused_port()}"
    )
    assert result.outcome == ProbeOutcome.FAILURE and "ConnectionError" in result.error


def test_management_command_runs_one_scenario_and_exits_nonzero_on_failure(probe_world, pipeline_workers, live_server):
    from io import StringIO

    out = StringIO()
    call_command("probe_run", "--scenario", "encounter_booking", "--base-url", live_server.url, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == len(probe_world) and all(" success " in line for line in lines)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="failed"):
        dead = f"http://127.0.0.1:{unused_port()}"
        call_command("probe_run", "--scenario", "encounter_booking", "--base-url", dead, stdout=out)


def test_hourly_task_runs_every_scenario_on_every_shard(probe_world, pipeline_workers, live_server, settings):
    from apps.probes.tasks import probes_run_all_task

    settings.PIMLAB_PROBE_BASE_URL = live_server.url
    counts = probes_run_all_task.apply().get()
    assert counts == {"success": len(ProbeScenario.values) * len(settings.SHARD_ALIASES)}
    ran = set(ProbeResult.objects.values_list("scenario", "shard_alias"))
    assert ran == {(s, a) for s in ProbeScenario.values for a in settings.SHARD_ALIASES}
