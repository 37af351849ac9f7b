"""Writes of the probe app: recording a probe result."""

from __future__ import annotations

from datetime import datetime

from .metrics import SYNTHETIC_PROBE_DURATION_SECONDS, SYNTHETIC_PROBE_SUCCESS_TOTAL
from .models import ProbeOutcome, ProbeResult


def probe_result_record(
    *,
    scenario: str,
    shard_alias: str,
    outcome: str,
    started_at: datetime,
    finished_at: datetime,
    duration_seconds: float,
    base_url: str,
    step_latencies: dict | None = None,
    failed_step: str = "",
    error: str = "",
    skip_reason: str = "",
    chaos_run_id: int | None = None,
    trace_id: str = "",
    resource_ids: dict | None = None,
    telemetry_missing: list[str] | None = None,
) -> ProbeResult:
    result = ProbeResult.objects.using("default").create(
        scenario=scenario,
        shard_alias=shard_alias,
        outcome=outcome,
        started_at=started_at,
        finished_at=finished_at,
        duration_seconds=duration_seconds,
        step_latencies=step_latencies or {},
        failed_step=failed_step,
        error=error[:2000],
        skip_reason=skip_reason[:300],
        chaos_run_id=chaos_run_id,
        trace_id=trace_id,
        telemetry_missing=telemetry_missing or [],
        base_url=base_url[:200],
        resource_ids=resource_ids or {},
    )
    SYNTHETIC_PROBE_DURATION_SECONDS.labels(scenario=scenario, outcome=outcome, shard_id=shard_alias).observe(
        duration_seconds
    )
    if outcome == ProbeOutcome.SUCCESS:
        SYNTHETIC_PROBE_SUCCESS_TOTAL.labels(scenario=scenario, shard_id=shard_alias).inc()
    return result
