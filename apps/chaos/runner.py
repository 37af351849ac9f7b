"""Executes one run of an approved revision and writes its journal (in Chaos Toolkit's shape).

Order: steady state before → method (after the injection step, the steady state "during") →
steady state after → rollbacks. Rollbacks ALWAYS run, whatever happened before; an abort does not
stop them, but each has its own bounded timeout (``PIMLAB_CHAOS_ROLLBACK_TIMEOUT_SECONDS``), so a
rollback never pins a worker. A failed rollback makes the run failed. Abort (SRE, kill switch,
``duration_seconds`` — the hard stop — or ``abort_conditions``) is noticed between activities and
inside long waits.

While it executes, a run heartbeats (``heartbeat_at``) from a thread of its worker and saves what
its activities keep for their rollbacks (``state``). When the worker dies, the reaper
(:func:`runs_reap_lost`, on beat) runs the rollbacks from that state and ends the run
``aborted (worker lost)``.
"""

from __future__ import annotations

import platform
import socket
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta

import structlog
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps.telemetry import context as telemetry_context
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import tracer

from .actions_load import live_error_ratio
from .activities import get_activity
from .dry_run import radius_shards
from .metrics import CHAOS_EXPERIMENT_ACTIVE, CHAOS_RUNS_TOTAL
from .models import WORKER_LOST, ChaosSwitch, ExperimentRun, RunStatus
from .registry import ActivityContext, ActivityFailed, ChaosAborted
from .traffic_share import traffic_share_measure

logger = structlog.get_logger("apps.chaos.controller")

ABORT_POLL_SECONDS = 0.5


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).isoformat()


def _chaoslib_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("chaostoolkit-lib")
    except Exception:  # the journal is still valid without it
        return None


def tolerance_met(tolerance, value) -> bool:
    if isinstance(tolerance, dict):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return ("min" not in tolerance or number >= tolerance["min"]) and (
            "max" not in tolerance or number <= tolerance["max"]
        )
    if isinstance(tolerance, list):
        return value in tolerance
    return value == tolerance


# Span names follow the seed's participants (Chaos-Induced Failover): whom the activity acts on.
PARTICIPANT_OF_ACTIVITY = {
    "ha_pod_kill": Participant.SQL_PRIMARY,
    "ha_postmaster_kill": Participant.SQL_PRIMARY,
    "ha_switchover": Participant.SQL_PRIMARY,
    "ha_measure_recovery": Participant.SQL_SECONDARY,
    "ha_rejoin": Participant.SQL_SECONDARY,
    "slo_alert_state": Participant.SLO_DASHBOARD,
    "slo_burn_rate": Participant.SLO_DASHBOARD,
    "slo_error_budget_remaining": Participant.SLO_DASHBOARD,
}
RUN_SPAN = Participant.CHAOS_TOOLING


def run_activity(ctx: ActivityContext, activity: dict, *, kind: str | None = None, tolerance=None) -> dict:
    """Run one activity (in a span) and return its journal entry. Raises ChaosAborted; failures are recorded."""
    kind = kind or activity["type"]
    name = activity.get(kind) or activity.get("probe")
    with tracer("apps.chaos").start_as_current_span(PARTICIPANT_OF_ACTIVITY.get(name, RUN_SPAN)) as span:
        span.set_attribute("chaos.activity", activity["name"])
        span.set_attribute("chaos.kind", kind)
        span.set_attribute("chaos.run_id", ctx.run_id or 0)
        entry = _run_activity(ctx, activity, kind=kind, name=name, tolerance=tolerance)
        span.set_attribute("chaos.status", entry["status"])
        return entry


def _run_activity(ctx: ActivityContext, activity: dict, *, kind: str, name: str, tolerance) -> dict:
    entry = {"activity": activity, "status": "succeeded", "start": None, "end": None, "duration": None, "output": None}
    started = time.time()
    entry["start"] = _iso(started)
    logger.info("chaos_activity_start", activity=activity["name"], kind=kind, run_id=ctx.run_id)
    try:
        registered = get_activity(kind, name)
        if registered is None:
            raise ActivityFailed(f"Unknown {kind} {name!r}.")
        entry["output"] = registered.function(ctx, **(activity.get("arguments") or {}))
        if tolerance is not None:
            entry["tolerance_met"] = tolerance_met(tolerance, entry["output"])
        pause = activity.get("pause_after_seconds")
        if pause:
            ctx.sleep(pause)
    except ChaosAborted:
        entry["status"] = "interrupted"
        raise
    except Exception as exc:  # an activity's failure is data for the journal, not a crash of the controller
        entry["status"] = "failed"
        entry["exception"] = [f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=4)]
        if tolerance is not None:
            entry["tolerance_met"] = False
        logger.warning("chaos_activity_failed", activity=activity["name"], error=str(exc), run_id=ctx.run_id)
    finally:
        ended = time.time()
        entry["end"], entry["duration"] = _iso(ended), round(ended - started, 3)
    return entry


def steady_state(ctx: ActivityContext, hypothesis: dict) -> dict:
    probes = [
        run_activity(ctx, {**p, "type": "probe"}, kind="probe", tolerance=p["tolerance"]) for p in hypothesis["probes"]
    ]
    return {"steady_state_met": all(p.get("tolerance_met") for p in probes), "probes": probes}


class RunController:
    def __init__(self, run: ExperimentRun):
        self.run = run
        self.manifest = run.revision.manifest
        self.key = run.revision.experiment.key
        self.started = time.monotonic()
        self._last_poll = 0.0
        self._abort_reason: str | None = None
        self.ctx = ActivityContext(
            configuration=dict(self.manifest.get("configuration") or {}),
            run_id=run.pk,
            experiment_key=self.key,
            abort_check=self.abort_reason,
            annotate=self.annotate,
            time_left=self.time_left,
        )
        targets = self.manifest.get("blast_radius", {}).get("targets", [])
        self.shard_label = ",".join(t["name"] for t in targets) or "none"

    # --- abort ---
    def time_left(self) -> float | None:
        """Seconds before the hard stop (``duration_seconds``): what a started load may last."""
        hard_stop = self.manifest.get("duration_seconds")
        return None if not hard_stop else max(0.0, hard_stop - (time.monotonic() - self.started))

    def abort_reason(self) -> str | None:
        if self._abort_reason:
            return self._abort_reason
        elapsed = time.monotonic() - self.started
        hard_stop = self.manifest.get("duration_seconds")
        if hard_stop and elapsed > hard_stop:
            self._abort_reason = f"duration_seconds {hard_stop} reached (hard stop)"
            return self._abort_reason
        limit = (self.manifest.get("abort_conditions") or {}).get("max_duration_seconds")
        if limit and elapsed > limit:
            self._abort_reason = f"max_duration_seconds {limit} exceeded"
            return self._abort_reason
        now = time.monotonic()
        if now - self._last_poll < ABORT_POLL_SECONDS:
            return None
        self._last_poll = now
        try:
            requested, reason, current = ExperimentRun.objects.filter(pk=self.run.pk).values_list(
                "abort_requested", "abort_reason", "status"
            )[0]
            switch = ChaosSwitch.objects.filter(engaged=True).first()
        except DatabaseError:
            return None
        if current != RunStatus.RUNNING:  # the reaper took it (heartbeats lost): stop, it rolls back
            self._abort_reason = f"run ended elsewhere ({current})"
        elif switch is not None:
            self._abort_reason = f"kill switch engaged: {switch.reason or 'no reason given'}"
        elif requested:
            self._abort_reason = reason or "abort requested"
        return self._abort_reason

    # --- observability ---
    def annotate(self, phase: str, text: str) -> None:
        from apps.slo.services import timeline_annotation_record

        timeline_annotation_record(
            source="chaos",
            text=f"[{self.key}] {text}",
            tags=["chaos", phase, f"experiment:{self.key}", f"run:{self.run.pk}"],
            reference=str(self.run.pk),
        )
        self.journal.setdefault("annotations", []).append(
            {"phase": phase, "text": text, "at": timezone.now().isoformat()}
        )

    def save(self, **fields) -> None:
        """Write what the run did; only while it is still RUNNING, so a reaped run keeps the reaper's word."""
        self.run.journal = self.journal
        self.run.summary = self.ctx.summary
        self.run.state = _jsonable(self.ctx.state)
        for name, value in fields.items():
            setattr(self.run, name, value)
        ExperimentRun.objects.filter(pk=self.run.pk, status=RunStatus.RUNNING).update(
            journal=self.run.journal,
            summary=self.run.summary,
            state=self.run.state,
            abort_reason=self.run.abort_reason,
            **fields,
        )

    # --- execution ---
    def execute(self) -> ExperimentRun:
        with tracer("apps.chaos").start_as_current_span(RUN_SPAN) as span:
            for key, value in {
                "chaos.run_id": self.run.pk,
                "chaos.experiment": self.key,
                "shard_id": self.shard_label,
                "user_id": self.run.launched_by,
                "persona": "sre",
                "actor_role": "sre",
                "request_id": self.run.request_id or f"chaos-run-{self.run.pk}",
            }.items():
                span.set_attribute(key, value)
            # Bound for the run only: the worker's next task must not log under this run's ids.
            with telemetry_context.bound(
                request_id=self.run.request_id or f"chaos-run-{self.run.pk}",
                shard_id=self.shard_label,
                user_id=self.run.launched_by,
                persona="sre",
                actor_role="sre",
                trace_id=telemetry_context.current_trace_id(),
            ):
                heartbeat = Heartbeat(self.run.pk)
                heartbeat.start()
                try:
                    run = self._execute()
                finally:
                    heartbeat.stop()
            span.set_attribute("chaos.status", run.status)
            return run

    def _execute(self) -> ExperimentRun:
        started = time.time()
        self.executing_since = timezone.now()
        self.journal = {
            "chaoslib-version": _chaoslib_version(),
            "platform": platform.platform(),
            "node": socket.gethostname(),
            "experiment": self.manifest,
            "start": _iso(started),
            "status": "running",
            "deviated": False,
            "steady_states": {"before": None, "after": None, "during": []},
            "run": [],
            "rollbacks": [],
        }
        CHAOS_EXPERIMENT_ACTIVE.labels(experiment=self.key, shard_id=self.shard_label).set(1)
        logger.info("chaos_run_start", run_id=self.run.pk, experiment=self.key)
        self.annotate("start", f"Chaos run {self.run.pk} started: {self.manifest.get('title', '')}")
        self.save()
        status, deviated = "completed", False
        hypothesis = self.manifest["steady_state_hypothesis"]
        try:
            before = steady_state(self.ctx, hypothesis)
            self.journal["steady_states"]["before"] = before
            self.save()
            if not before["steady_state_met"]:
                status = "failed"
            else:
                status = self._method(hypothesis)
                if status == "completed":
                    after = steady_state(self.ctx, hypothesis)
                    self.journal["steady_states"]["after"] = after
                    if not after["steady_state_met"]:
                        status, deviated = "failed", True
        except ChaosAborted as exc:
            status = "aborted"
            self.run.abort_reason = str(exc)
            logger.warning("chaos_run_aborted", run_id=self.run.pk, reason=str(exc))
            self.annotate("abort", f"Aborted: {exc}")
        finally:
            rollbacks_ok = self._rollbacks()
            if not rollbacks_ok and status == "completed":
                status = "failed"
            self._burn_check()
            self._traffic_share_record()
            ended = time.time()
            self.journal.update(
                {"status": status, "deviated": deviated, "end": _iso(ended), "duration": round(ended - started, 3)}
            )
            self.ctx.summary.update(
                {
                    "status": status,
                    "rollbacks": "succeeded" if rollbacks_ok else "failed",
                    "duration_seconds": round(ended - started, 3),
                }
            )
            _freeze_workload_series(self.ctx.summary, self.journal)
            _freeze_burn_series(self.ctx.summary, started_at=self.run.started_at)
            CHAOS_EXPERIMENT_ACTIVE.labels(experiment=self.key, shard_id=self.shard_label).set(0)
            CHAOS_RUNS_TOTAL.labels(experiment=self.key, outcome=status).inc()
            self.annotate("end", f"Chaos run {self.run.pk} {status}; summary: {self._summary_line()}")
            if ExperimentRun.objects.filter(pk=self.run.pk, status=RunStatus.RUNNING).exists():
                self.save(status=status, outcome=status, deviated=deviated, ended_at=timezone.now())
            else:  # reaped meanwhile: keep the reaper's outcome, add this journal beside it
                self.run.refresh_from_db()
                self.run.journal = {**self.run.journal, "worker": self.journal}
                ExperimentRun.objects.filter(pk=self.run.pk).update(journal=self.run.journal)
            logger.info(
                "chaos_run_end",
                run_id=self.run.pk,
                status=status,
                summary={k: v for k, v in self.ctx.summary.items() if k not in FROZEN_SERIES},
            )
        return self.run

    def _method(self, hypothesis: dict) -> str:
        max_error_ratio = (self.manifest.get("abort_conditions") or {}).get("max_error_ratio")
        for activity in self.manifest["method"]:
            self.ctx.check_abort()
            entry = run_activity(self.ctx, activity)
            self.journal["run"].append(entry)
            self.save()
            if entry["status"] == "failed":
                self.annotate("failure", f"Step {activity['name']!r} failed")
                return "failed"
            if activity.get("injection"):
                self.journal["steady_states"]["during"].append(steady_state(self.ctx, hypothesis))
                self.save()
            ratio = self._live_error_ratio()
            if max_error_ratio is not None and ratio is not None and ratio > max_error_ratio:
                raise ChaosAborted(f"error ratio {ratio} above the abort condition {max_error_ratio}")
        return "completed"

    def _live_error_ratio(self) -> float | None:
        """Error ratio of the running workload (or persona load) so far, or the last measured one."""
        workload = self.ctx.state.get("workload")
        if not workload:
            persona_load = live_error_ratio(self.ctx.state)
            return persona_load if persona_load is not None else self.ctx.summary.get("error_ratio")
        from pathlib import Path

        from .workload import analyse, read_attempts

        return analyse(read_attempts(Path(workload["out"])), fault_at=None).error_ratio

    def _rollbacks(self) -> bool:
        ok = rollbacks_execute(
            manifest=self.manifest,
            ctx=self.ctx,
            experiment_key=self.key,
            annotate=self.annotate,
            record=lambda entry: (self.journal["rollbacks"].append(entry), self.save()),
        )
        if self.manifest.get("rollbacks"):
            self.annotate("rollback", f"Rollbacks {'succeeded' if ok else 'FAILED'}")
        return ok

    def _burn_check(self) -> None:
        """Burn-rate breach → page (seed failure mode): a fresh round of the SLO engine
        (``slo_evaluate_all``, which also records the SLO's own alert transitions); every SLO at page
        level after the run raises a page event naming the experiment."""
        from apps.slo.services import alert_event_record, slo_evaluate_all

        try:
            statuses = slo_evaluate_all()
        except Exception as exc:  # the SLO engine failing must not hide the drill's own outcome
            self.ctx.summary["slo"] = {"error": f"{type(exc).__name__}: {exc}"}
            return
        paging = [s for s in statuses if s.get("alert_state") == "page"]
        self.ctx.summary["slo"] = {"paging": [s["name"] for s in paging]}
        for slo in paging:
            alert_event_record(
                name="ChaosBurnRateBreach",
                severity="page",
                status="firing",
                labels={"slo": slo["name"], "experiment": self.key, "shard_id": self.shard_label},
                annotations={
                    "summary": f"SLO {slo['name']} burns at page level during chaos run {self.run.pk}",
                    "burn_rates": str(slo.get("burn_rates", {})),
                    "error_budget_remaining_ratio": str(slo.get("error_budget_remaining_ratio")),
                    "runbook": "docs/runbooks/32_chaos-controller.md",
                },
            )
        self.ctx.summary["error_budget_remaining"] = {
            s["name"]: s.get("error_budget_remaining_ratio") for s in statuses
        }

    def _traffic_share_record(self) -> None:
        """Measured, not estimated: the share of the lab's writes during the run that hit its shards."""
        radius = self.manifest.get("blast_radius") or {}
        share = traffic_share_measure(
            target_shards=radius_shards(self.manifest),
            declared=float(radius.get("max_traffic_share", 0.0)),
            since=self.executing_since,
        )
        self.ctx.summary["traffic_share"] = share.as_summary()
        if share.above_declared:
            logger.warning("chaos_traffic_share_above_declared", run_id=self.run.pk, measured=share.measured)
            self.annotate(
                "traffic",
                f"Measured traffic share {share.measured:.0%} above the declared max_traffic_share "
                f"{share.declared:.0%} ({share.note})",
            )

    def _summary_line(self) -> str:
        keys = ("rto_seconds", "rpo_acknowledged_writes_lost", "error_ratio")
        return ", ".join(f"{k}={self.ctx.summary[k]}" for k in keys if k in self.ctx.summary) or "no measurements"


def run_execute(*, run: ExperimentRun) -> ExperimentRun:
    if run.status != RunStatus.RUNNING or run.journal:
        return run  # already executed (a redelivered task)
    return RunController(run).execute()


def _jsonable(value):
    """The activities' state as JSON (what is not JSON is not needed by a rollback in another process)."""
    import json

    return json.loads(json.dumps(value, default=lambda _: None))


def rollbacks_execute(*, manifest: dict, ctx: ActivityContext, experiment_key: str, annotate, record) -> bool:
    """Run every rollback, each under its own deadline; True when all succeeded."""
    timeout = settings.PIMLAB_CHAOS_ROLLBACK_TIMEOUT_SECONDS
    ok = True
    for activity in manifest.get("rollbacks", []):
        deadline = time.monotonic() + timeout
        rollback_ctx = ActivityContext(
            configuration=ctx.configuration,
            state=ctx.state,
            summary=ctx.summary,
            run_id=ctx.run_id,
            experiment_key=experiment_key,
            annotate=annotate,
            # Not the run's abort: a rollback runs after an abort too, but never past its own deadline.
            abort_check=lambda deadline=deadline: (
                f"rollback timeout ({timeout:g} s)" if time.monotonic() > deadline else None
            ),
        )
        try:
            entry = run_activity(rollback_ctx, activity)
        except ChaosAborted as exc:
            entry = {"activity": activity, "status": "failed", "exception": [f"RollbackTimeout: {exc}", ""]}
            entry.update({"start": None, "end": _iso(time.time()), "duration": timeout, "output": None})
        record(entry)
        ok = ok and entry["status"] == "succeeded"
    return ok


class Heartbeat:
    """Writes ``heartbeat_at`` every ``PIMLAB_CHAOS_HEARTBEAT_SECONDS`` from a thread of the worker,
    so a run whose worker died is told apart from a run in a long step."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.interval = settings.PIMLAB_CHAOS_HEARTBEAT_SECONDS
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"chaos-heartbeat-{run_id}", daemon=True)

    def start(self) -> None:
        self._touch()
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=self.interval + 5)

    def _touch(self) -> None:
        ExperimentRun.objects.filter(pk=self.run_id, status=RunStatus.RUNNING).update(heartbeat_at=timezone.now())

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    self._touch()
                except DatabaseError as exc:  # a missed beat; the timeout tolerates several
                    logger.warning("chaos_heartbeat_failed", run_id=self.run_id, error=str(exc))
        finally:
            connections.close_all()  # this thread's own connections


def runs_reap_lost(*, now=None) -> list[ExperimentRun]:
    """Runs whose worker stopped heartbeating: run their rollbacks, end them ``aborted (worker lost)``,
    reset ``chaos_experiment_active`` (the probes' chaos skip ends with the run's RUNNING status)."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.PIMLAB_CHAOS_HEARTBEAT_TIMEOUT_SECONDS)
    never_started_before = now - timedelta(seconds=settings.PIMLAB_CHAOS_PICKUP_TIMEOUT_SECONDS)
    # Launched but never taken by a worker: nothing was injected, the run only blocks launches.
    for run in ExperimentRun.objects.filter(
        status=RunStatus.RUNNING, heartbeat_at__isnull=True, started_at__lt=never_started_before
    ):
        updated = ExperimentRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, heartbeat_at__isnull=True).update(
            status=RunStatus.ABORTED,
            outcome="aborted (never started)",
            abort_reason="no chaos worker took the run within PIMLAB_CHAOS_PICKUP_TIMEOUT_SECONDS",
            ended_at=now,
        )
        if updated:
            logger.error("chaos_run_never_started", run_id=run.pk)
    reaped = []
    lost = ExperimentRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
    for run_id in lost.values_list("pk", flat=True):
        with transaction.atomic(using="default"):
            run = (
                ExperimentRun.objects.select_for_update(skip_locked=True)
                .filter(pk=run_id, status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
                .first()
            )
            if run is None:
                continue  # another reaper has it, or it beat again
            # Claim it first: a late heartbeat of a half-dead worker no longer matches RUNNING.
            run.status, run.outcome = RunStatus.ABORTED, WORKER_LOST
            run.abort_reason = f"worker lost: no heartbeat since {run.heartbeat_at.isoformat()}"[:300]
            run.save(update_fields=["status", "outcome", "abort_reason"])
        reaped.append(_reap(ExperimentRun.objects.select_related("revision__experiment").get(pk=run_id)))
    return reaped


# Series stored in a run's summary for its report; too long for the end-of-run log line.
FROZEN_SERIES = ("workload_series", "slo_burn_series")


def _freeze_workload_series(summary: dict, journal: dict) -> None:
    """The workload's series, stored in the summary when the run ends (completed, aborted, failed or
    reaped), so its report shows the same chart however long after: the attempts files are scratch."""
    from .selectors import workload_series

    try:
        series = workload_series(journal)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # the report then says it has no workload chart
        logger.warning("chaos_workload_series_unreadable", error=f"{type(exc).__name__}: {exc}")
        return
    if series:
        summary["workload_series"] = series


def _freeze_burn_series(summary: dict, *, started_at) -> None:
    """The SLO engine's burn series over the run, stored when it ends, so its report's SLO chart shows
    what the engine saw then, not what later samples or an unreachable Prometheus would give."""
    from .selectors import burn_series_over

    try:
        summary["slo_burn_series"] = burn_series_over(started_at=started_at, ended_at=timezone.now())
    except Exception as exc:  # the SLO source failing must not hide the drill's own outcome
        logger.warning("chaos_burn_series_unreadable", error=f"{type(exc).__name__}: {exc}")


def _reap(run: ExperimentRun) -> ExperimentRun:
    manifest, key = run.revision.manifest, run.revision.experiment.key
    journal = dict(run.journal or {})
    journal.setdefault("rollbacks", [])
    summary = dict(run.summary or {})
    ctx = ActivityContext(
        configuration=dict(manifest.get("configuration") or {}),
        state=dict(run.state or {}),
        summary=summary,
        run_id=run.pk,
        experiment_key=key,
    )
    logger.error("chaos_run_worker_lost", run_id=run.pk, experiment=key, heartbeat_at=str(run.heartbeat_at))

    def record(entry):
        journal["rollbacks"].append(entry)
        ExperimentRun.objects.filter(pk=run.pk).update(journal=journal, summary=summary)

    ok = rollbacks_execute(manifest=manifest, ctx=ctx, experiment_key=key, annotate=lambda *_: None, record=record)
    targets = manifest.get("blast_radius", {}).get("targets", [])
    CHAOS_EXPERIMENT_ACTIVE.labels(experiment=key, shard_id=",".join(t["name"] for t in targets) or "none").set(0)
    CHAOS_RUNS_TOTAL.labels(experiment=key, outcome="aborted").inc()
    summary.update({"status": WORKER_LOST, "rollbacks": "succeeded" if ok else "failed", "reaped": True})
    _freeze_workload_series(summary, journal)
    _freeze_burn_series(summary, started_at=run.started_at)
    journal.update({"status": "aborted", "end": _iso(time.time())})
    ExperimentRun.objects.filter(pk=run.pk).update(
        journal=journal, summary=summary, state=_jsonable(ctx.state), ended_at=timezone.now()
    )
    from apps.slo.services import timeline_annotation_record

    timeline_annotation_record(
        source="chaos",
        text=f"[{key}] Chaos run {run.pk} aborted (worker lost); rollbacks {'succeeded' if ok else 'FAILED'}",
        tags=["chaos", "end", f"experiment:{key}", f"run:{run.pk}"],
        reference=str(run.pk),
    )
    run.refresh_from_db()
    return run
