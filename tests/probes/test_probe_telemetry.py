"""Each probe asserts its own telemetry: the scenario's spans in its trace, the seed's correlation
fields on every log line of its requests (the lab's JSON log files) and the metric increments at
/metrics; what is missing fails the run (step "telemetry") and is recorded, so the probe SLO counts it."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from apps.probes import telemetry_checks
from apps.probes.models import ProbeOutcome, ProbeScenario
from apps.probes.personas import probe_identities
from apps.probes.runner import probe_run

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def lab_log_files(tmp_path, settings):
    """The lab's log files, as `make run` writes them (PIMLAB_LOG_DIR, the same JSON formatter)."""
    root = logging.getLogger()
    formatter = next(handler.formatter for handler in root.handlers if handler.formatter)
    handler = logging.FileHandler(tmp_path / "web.log")
    handler.setFormatter(formatter)
    handler.setLevel(logging.INFO)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    settings.PIMLAB_LOG_DIR = str(tmp_path)
    yield tmp_path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


class DropPersona(logging.Filter):
    """A log pipeline that loses a field: the persona never reaches the file."""

    def filter(self, record):
        if isinstance(record.msg, dict):
            record.msg = {key: value for key, value in record.msg.items() if key != "persona"}
        return True


@pytest.mark.parametrize("scenario", ProbeScenario.values)
def test_a_successful_run_found_all_its_telemetry(probe_world, pipeline_workers, live_server, lab_log_files, scenario):
    result = probe_run(scenario=scenario, identity=probe_identities()[0], base_url=live_server.url)
    assert result.outcome == ProbeOutcome.SUCCESS, (result.failed_step, result.error)
    assert result.telemetry_missing == []


def test_log_lines_without_the_seed_fields_fail_the_probe(
    probe_world, pipeline_workers, live_server, lab_log_files, tmp_path, settings
):
    """The probe reads its requests' log lines: lines that lost a field (or no lines at all) fail it."""
    file_handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler))
    file_handler.addFilter(DropPersona())
    identity = probe_identities()[0]
    result = probe_run(scenario=ProbeScenario.ENCOUNTER_BOOKING, identity=identity, base_url=live_server.url)
    assert result.outcome == ProbeOutcome.FAILURE and result.failed_step == "telemetry"
    assert result.telemetry_missing == ["log field persona"]

    settings.PIMLAB_LOG_DIR = str(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    result = probe_run(scenario=ProbeScenario.ENCOUNTER_BOOKING, identity=identity, base_url=live_server.url)
    assert result.failed_step == "telemetry"
    assert result.telemetry_missing == [f"log lines of trace {result.trace_id} in {tmp_path / 'elsewhere'}"]


def test_a_missing_span_and_a_metric_that_did_not_move_fail_the_probe(
    probe_world, pipeline_workers, live_server, monkeypatch
):
    monkeypatch.setitem(
        telemetry_checks.EXPECTED_SPANS,
        ProbeScenario.ENCOUNTER_BOOKING,
        (*telemetry_checks.EXPECTED_SPANS[ProbeScenario.ENCOUNTER_BOOKING], "Span Nobody Emits"),
    )
    monkeypatch.setitem(
        telemetry_checks.EXPECTED_INCREMENTS,
        ProbeScenario.ENCOUNTER_BOOKING,
        (("claim_submit_latency_count", {"outcome": "created"}),),  # a booking submits no claim
    )
    monkeypatch.setattr(telemetry_checks, "SPAN_WAIT_SECONDS", 1.0)
    identity = probe_identities()[0]
    labels = {"scenario": "encounter_booking", "outcome": "failure", "shard_id": identity.shard_alias}
    failures_before = REGISTRY.get_sample_value("synthetic_probe_duration_seconds_count", labels) or 0
    result = probe_run(scenario=ProbeScenario.ENCOUNTER_BOOKING, identity=identity, base_url=live_server.url)
    assert result.outcome == ProbeOutcome.FAILURE and result.failed_step == "telemetry"
    assert result.telemetry_missing == [
        "span Span Nobody Emits",
        'metric claim_submit_latency_count{outcome="created"} did not increase',
    ]
    assert "Span Nobody Emits" in result.error
    assert REGISTRY.get_sample_value("synthetic_probe_duration_seconds_count", labels) == failures_before + 1
