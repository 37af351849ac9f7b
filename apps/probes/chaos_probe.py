"""The fourth scenario's probe (Chaos-Induced Failover), on the chaos path and safe: the failover
manifest's dry run (schema, activities, targets, blast radius, ADR, conflicts) and its steady-state
hypothesis against the HA pair, without injecting anything. Its own telemetry is checked too: the
steady-state probes' spans and the experiment's ``chaos_experiment_active`` series at /metrics."""

from __future__ import annotations

import time

import requests
import structlog
from django.conf import settings
from django.utils import timezone

from apps.chaos import ha_lab
from apps.chaos.dry_run import dry_run
from apps.chaos.manifests import experiments_dir
from apps.chaos.registry import ActivityContext
from apps.chaos.runner import steady_state
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import ALWAYS_SAMPLE_ATTRIBUTE, span_store, tracer

from .models import CHAOS_FAILOVER, ProbeOutcome, ProbeResult
from .services import probe_result_record
from .telemetry_checks import metrics_read

logger = structlog.get_logger(__name__)
FAILOVER_MANIFEST = "sql-switchover-planned.yaml"


def probe_chaos_failover_run(*, manifest_key: str = FAILOVER_MANIFEST, base_url: str | None = None) -> ProbeResult:
    import yaml

    base_url = (base_url or settings.PIMLAB_PROBE_BASE_URL).rstrip("/")
    started_at, started = timezone.now(), time.perf_counter()
    text = (experiments_dir() / manifest_key).read_text()
    manifest = yaml.safe_load(text)
    shard = ",".join(t["name"] for t in manifest.get("blast_radius", {}).get("targets", [])) or "none"
    steps: dict[str, float] = {}
    outcome, failed_step, error, skip_reason, missing = ProbeOutcome.SUCCESS, "", "", "", []
    context.bind(persona="synthetic_probe", actor_role="system", shard_id=shard)
    with tracer("pimlab.probes").start_as_current_span(
        f"{Participant.SYNTHETIC_PROBE}: {CHAOS_FAILOVER}", attributes={ALWAYS_SAMPLE_ATTRIBUTE: True}
    ) as span:
        span.set_attribute("scenario", CHAOS_FAILOVER)
        trace_id = context.current_trace_id() or ""
        step_started = time.perf_counter()
        report = dry_run(text)
        steps["manifest_dry_run"] = round(time.perf_counter() - step_started, 4)
        ha_pair = ha_lab.load_state()
        # Without an HA pair the targets and capabilities checks cannot pass (nothing to fail over):
        # every other check must.
        needs_ha_pair = ("targets", "capabilities")
        problems = [
            f"{c['check']}: {'; '.join(c['errors'])}"
            for c in report.as_dict()["checks"]
            if not c["ok"] and (ha_pair is not None or c["check"] not in needs_ha_pair)
        ]
        if problems:
            outcome, failed_step, error = ProbeOutcome.FAILURE, "manifest_dry_run", " | ".join(problems)
        elif ha_pair is None:
            outcome, skip_reason = ProbeOutcome.SKIPPED, "no HA pair in this lab (python manage.py lab_ha up)"
        else:
            step_started = time.perf_counter()
            ctx = ActivityContext(configuration=dict(manifest.get("configuration") or {}), experiment_key=manifest_key)
            hypothesis = steady_state(ctx, manifest["steady_state_hypothesis"])
            steps["steady_state"] = round(time.perf_counter() - step_started, 4)
            if not hypothesis["steady_state_met"]:
                unmet = [p["activity"]["name"] for p in hypothesis["probes"] if not p.get("tolerance_met")]
                outcome, failed_step, error = ProbeOutcome.FAILURE, "steady_state", f"unmet: {', '.join(unmet)}"
            else:
                missing = _telemetry_missing(trace_id=trace_id, manifest_key=manifest_key, base_url=base_url)
                if missing:
                    outcome, failed_step, error = ProbeOutcome.FAILURE, "telemetry", "missing: " + "; ".join(missing)
    logger.info(
        "synthetic_probe_finished", scenario=CHAOS_FAILOVER, outcome=str(outcome), failed_step=failed_step or None
    )
    return probe_result_record(
        scenario=CHAOS_FAILOVER,
        shard_alias=shard,
        outcome=outcome,
        started_at=started_at,
        finished_at=timezone.now(),
        duration_seconds=time.perf_counter() - started,
        base_url=base_url,
        step_latencies=steps,
        failed_step=failed_step,
        error=error,
        skip_reason=skip_reason,
        trace_id=trace_id,
        resource_ids={"manifest": manifest_key},
        telemetry_missing=missing,
    )


def _telemetry_missing(*, trace_id: str, manifest_key: str, base_url: str) -> list[str]:
    missing = []
    if Participant.CHAOS_TOOLING not in {span.name for span in span_store.trace(trace_id)}:
        missing.append(f"span {Participant.CHAOS_TOOLING}")
    try:
        samples = metrics_read(base_url)
    except (requests.RequestException, ValueError) as exc:
        return [*missing, f"metrics endpoint ({type(exc).__name__})"]
    if not any(
        name == "chaos_experiment_active" and labels.get("experiment") == manifest_key for name, labels, _ in samples
    ):
        missing.append(f'metric chaos_experiment_active{{experiment="{manifest_key}"}}')
    return missing
