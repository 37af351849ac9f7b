"""What a probe checks about its own telemetry, beside the HTTP answers: the spans of the scenario in
its trace (every process, through the shared trace store), the seed's correlation fields on every
log line of its requests (the lab's JSON log files under ``PIMLAB_LOG_DIR``; without log files,
on the request's API Gateway span, which carries the same fields), and the metric increments at
the lab's ``/metrics``. A probe whose telemetry is missing fails (step ``telemetry``), so the probe
SLO sees it like any broken step."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import requests
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from apps.telemetry.participants import Participant as P
from apps.telemetry.trace_store import merged_trace
from apps.telemetry.tracing import shared_trace_store, span_store

from .models import ProbeScenario

# The seed's correlation fields: on every log line of a request and on its API Gateway span.
SEED_FIELDS = ("trace_id", "request_id", "user_id", "persona", "actor_role", "shard_id")
EXPECTED_SPANS: dict[str, tuple[str, ...]] = {
    ProbeScenario.ENCOUNTER_BOOKING: (
        P.API_GATEWAY,
        P.PATIENT_API_CONTROLLER,
        P.PATIENT_ORCHESTRATOR,
        P.SHARD_RESOLVER,
        P.PATIENT_REPOSITORY_ADAPTER,
        P.SQL_SHARD_PRIMARY,
        P.OUTBOX_WRITER,
    ),
    ProbeScenario.CLINICAL_DOCUMENTATION: (
        P.ENCOUNTER_API_CONTROLLER,
        P.COMMAND_VALIDATOR,
        P.ENCOUNTER_ORCHESTRATOR,
        P.ENCOUNTER_REPOSITORY_ADAPTER,
        P.SQL_TEMPORAL_HISTORY,
        P.AUDIT_LOGGER,
        P.TELEMETRY_INTERCEPTOR,
    ),
    ProbeScenario.CLAIM_SUBMISSION: (
        P.BILLING_SERVICE_API,
        P.BILLING_ORCHESTRATOR,
        P.BILLING_REPOSITORY_ADAPTER,
        P.OUTBOX_WRITER,
        P.PROJECTION_WORKER,
        P.FINANCIAL_DASHBOARD,
    ),
}
# (metric sample, labels that must match) that one run of the scenario increments at the web's /metrics.
EXPECTED_INCREMENTS: dict[str, tuple[tuple[str, dict], ...]] = {
    ProbeScenario.ENCOUNTER_BOOKING: (
        ("http_server_duration_seconds_count", {"route": "api/encounters", "method": "POST", "status": "202"}),
        ("encounter_write_latency_count", {"outcome": "created"}),
    ),
    ProbeScenario.CLINICAL_DOCUMENTATION: (
        ("encounter_note_update_duration_count", {"outcome": "success"}),
        ("audit_event_write_total", {"outcome": "success"}),
    ),
    ProbeScenario.CLAIM_SUBMISSION: (
        ("claim_submit_latency_count", {"outcome": "created"}),
        ("http_server_duration_seconds_count", {"route": "api/claims", "method": "POST", "status": "202"}),
    ),
}
SPAN_WAIT_SECONDS = 5.0  # batch export every 0.5 s per process; the projection follows within a beat


def metrics_read(base_url: str, *, timeout: float = 10.0) -> list[tuple[str, dict, float]]:
    text = requests.get(f"{base_url}/metrics", timeout=timeout).text
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _total(samples: Iterable[tuple[str, dict, float]], name: str, labels: dict) -> float:
    return sum(
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    )


def scenario_spans(trace_id: str, wanted: set[str], *, wait: float = SPAN_WAIT_SECONDS) -> list[dict]:
    deadline = time.monotonic() + wait
    while True:
        spans = merged_trace(trace_id, shared=shared_trace_store(), local=span_store.trace(trace_id))
        if wanted <= {span["name"] for span in spans} or time.monotonic() >= deadline:
            return spans
        time.sleep(0.25)


def log_lines_of(trace_id: str, log_dir: Path) -> list[dict]:
    """The JSON log lines of one trace, from every process's log file in ``log_dir``."""
    lines = []
    for path in sorted(log_dir.glob("*.log")):
        with path.open(errors="replace") as handle:
            for line in handle:
                if trace_id not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("trace_id") == trace_id:
                    lines.append(record)
    return lines


def log_fields_missing(trace_id: str, log_dir: Path) -> list[str]:
    """Every log line of the probe's requests carries every seed field, and each field has a value
    on at least one of them (an anonymous first line may still name no user)."""
    lines = log_lines_of(trace_id, log_dir)
    if not lines:
        return [f"log lines of trace {trace_id} in {log_dir}"]
    return [
        f"log field {field}"
        for field in SEED_FIELDS
        if any(field not in line for line in lines) or not any(line.get(field) for line in lines)
    ]


def telemetry_missing(
    *,
    scenario: str,
    trace_id: str,
    metrics_before: list[tuple[str, dict, float]],
    metrics_after: Callable[[], list[tuple[str, dict, float]]],
) -> list[str]:
    """What the run should have left in the lab's telemetry and did not (empty when all is there)."""
    missing: list[str] = []
    wanted = set(EXPECTED_SPANS.get(scenario, ()))
    spans = scenario_spans(trace_id, wanted) if trace_id else []
    names = {span["name"] for span in spans}
    missing += [f"span {name}" for name in EXPECTED_SPANS.get(scenario, ()) if name not in names]
    if settings.PIMLAB_LOG_DIR and trace_id:
        missing += log_fields_missing(trace_id, Path(settings.PIMLAB_LOG_DIR))
    else:
        gateways = [span for span in spans if span["name"] == P.API_GATEWAY]
        for field in SEED_FIELDS:
            if gateways and not any(span["attributes"].get(field) for span in gateways):
                missing.append(f"span field {field}")
    after = metrics_after()
    for name, labels in EXPECTED_INCREMENTS.get(scenario, ()):
        if _total(after, name, labels) <= _total(metrics_before, name, labels):
            shown = ",".join(f'{k}="{v}"' for k, v in labels.items())
            missing.append(f"metric {name}{{{shown}}} did not increase")
    return missing
