"""Reads of the chaos controller."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from apps.slo.models import TimelineAnnotation
from apps.slo.selectors import slo_burn_series

from .models import Experiment, ExperimentRevision, ExperimentRun


def experiment_list() -> QuerySet[Experiment]:
    return Experiment.objects.prefetch_related("revisions").order_by("key")


def experiment_list_with_runs() -> QuerySet[Experiment]:
    """Every experiment with all its revisions (newest first) and their runs (newest first, journals
    left out): the console's experiment list in three queries, whatever the number of rows."""
    runs = ExperimentRun.objects.defer("journal").order_by("-started_at")
    revisions = ExperimentRevision.objects.defer("manifest_text").order_by("-number")
    return Experiment.objects.prefetch_related(
        Prefetch("revisions", queryset=revisions.prefetch_related(Prefetch("runs", queryset=runs)))
    ).order_by("key")


def run_list(*, limit: int = 50) -> QuerySet[ExperimentRun]:
    return ExperimentRun.objects.defer("journal").select_related("revision__experiment").order_by("-started_at")[:limit]


def run_windows_between(*, start: datetime, end: datetime) -> list[dict]:
    """Runs that overlap ``[start, end]`` as time spans (a running one ends now): the bands drawn on charts."""
    now = timezone.now()
    runs = (
        ExperimentRun.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start), started_at__lte=end)
        .select_related("revision__experiment")
        .only("id", "status", "started_at", "ended_at", "revision__experiment__key", "revision__number")
        .order_by("started_at")
    )
    return [
        {
            "run_id": run.pk,
            "experiment": run.revision.experiment.key,
            "status": run.status,
            "start": run.started_at.isoformat(),
            "end": (run.ended_at or now).isoformat(),
        }
        for run in runs
    ]


def revision_get(revision_id: int) -> ExperimentRevision | None:
    return ExperimentRevision.objects.select_related("experiment").filter(pk=revision_id).first()


def run_get(run_id: int) -> ExperimentRun | None:
    return ExperimentRun.objects.select_related("revision__experiment").filter(pk=run_id).first()


def run_report(run: ExperimentRun) -> dict:
    """The completion summary and a condensed journal: what an SRE reads after a drill."""
    journal = run.journal or {}

    def condensed(entries):
        return [
            {
                "name": e["activity"]["name"],
                "status": e["status"],
                "start": e["start"],
                "end": e["end"],
                "duration": e["duration"],
                **({"exception": e["exception"][0]} if e.get("exception") else {}),
            }
            for e in entries or []
        ]

    states = journal.get("steady_states") or {}
    return {
        "run_id": run.pk,
        "experiment": run.revision.experiment.key,
        "revision": run.revision.number,
        "status": run.status,
        "outcome": run.outcome,
        "deviated": run.deviated,
        "abort_reason": run.abort_reason,
        "summary": run.summary,
        "steady_state": {
            "before": (states.get("before") or {}).get("steady_state_met"),
            "during": [s.get("steady_state_met") for s in states.get("during") or []],
            "after": (states.get("after") or {}).get("steady_state_met"),
        },
        "method": condensed(journal.get("run")),
        "rollbacks": condensed(journal.get("rollbacks")),
        "annotations": journal.get("annotations", []),
        "closed": {"by": run.closed_by, "adr": run.close_adr_ref, "notes": run.close_notes} if run.closed_at else None,
    }


FAULT_ACTIONS = ("ha_pod_kill", "ha_postmaster_kill")


def _moment(value) -> datetime | None:
    """An ISO string or epoch seconds as an aware datetime (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_timeline(*, journal: dict, summary: dict) -> list[dict]:
    """What happened in a run, in order: its annotations (start, injection, recovery, end …), each
    step and rollback, and for a failover drill the moments the leader was lost, the standby was
    promoted and the first write succeeded. Each entry has ``at`` (ISO) and ``offset_seconds`` from
    the fault (the leader lost, else the first injection; None before any fault)."""
    events = [{"at": _moment(a["at"]), "kind": a["phase"], "text": a["text"]} for a in journal.get("annotations") or []]
    for section, label in (("run", "step"), ("rollbacks", "rollback")):
        for entry in journal.get(section) or []:
            if entry.get("start"):
                events.append(
                    {
                        "at": _moment(entry["start"]),
                        "kind": label,
                        "text": f"{entry['activity']['name']}: {entry['status']}",
                    }
                )
    # The leader lost: the summary's moment, else the kill step's own output (runs recorded before it).
    lost_at, lost_node = _moment(summary.get("leader_lost_at")), summary.get("old_leader")
    if lost_at is None:
        for entry in journal.get("run") or []:
            output = entry.get("output")
            if (entry.get("activity") or {}).get("action") in FAULT_ACTIONS and isinstance(output, dict):
                lost_at, lost_node = _moment(output.get("killed_at")), output.get("node")
                break
    if lost_at is not None:
        fault = f" ({summary['fault']})" if summary.get("fault") else ""
        events.append({"at": lost_at, "kind": "leader lost", "text": f"Leader {lost_node or ''} lost{fault}"})
    promoted_at = _moment(summary.get("promoted_at"))
    if promoted_at is not None:
        events.append(
            {"at": promoted_at, "kind": "promoted", "text": f"{summary.get('new_leader', 'The standby')} promoted"}
        )
    first_write = _moment(summary.get("first_write_at"))
    if first_write is None and lost_at is not None and summary.get("rto_seconds") is not None:
        first_write = _moment(lost_at.timestamp() + summary["rto_seconds"])
    if first_write is not None:
        events.append({"at": first_write, "kind": "first write", "text": "First successful write after the fault"})
    # Rejoined: the moment the rejoin rollback saw the restarted node back as the sync standby.
    for entry in journal.get("rollbacks") or []:
        output = entry.get("output")
        if (entry.get("activity") or {}).get("action") == "ha_rejoin" and entry.get("status") == "succeeded":
            restarted = ", ".join(output.get("restarted") or []) if isinstance(output, dict) else ""
            standby = output.get("sync_standby") if isinstance(output, dict) else None
            text = f"{restarted or 'Stopped nodes'} rejoined" + (f"; sync standby {standby}" if standby else "")
            events.append({"at": _moment(entry["end"]), "kind": "rejoined", "text": text})
    events.sort(key=lambda e: e["at"])
    fault_at = lost_at or next((e["at"] for e in events if e["kind"] == "injection"), None)
    return [
        {
            "at": e["at"].isoformat(timespec="milliseconds"),
            "kind": e["kind"],
            "text": e["text"],
            "offset_seconds": round((e["at"] - fault_at).total_seconds(), 3) if fault_at is not None else None,
        }
        for e in events
    ]


def grafana_annotations(*, start: datetime | None, end: datetime | None, limit: int = 500) -> list[dict]:
    """Chaos annotations in Grafana's annotation JSON format (time/timeEnd in epoch milliseconds)."""
    queryset = TimelineAnnotation.objects.filter(source="chaos")
    if start is not None:
        queryset = queryset.filter(occurred_at__gte=start)
    if end is not None:
        queryset = queryset.filter(occurred_at__lte=end)
    result = []
    for annotation in queryset.order_by("occurred_at")[:limit]:
        item = {
            "id": annotation.pk,
            "time": int(annotation.occurred_at.timestamp() * 1000),
            "text": annotation.text,
            "tags": annotation.tags,
            "title": annotation.text.split("]", 1)[0].lstrip("[") if annotation.text.startswith("[") else "chaos",
        }
        if annotation.ended_at:
            item["timeEnd"] = int(annotation.ended_at.timestamp() * 1000)
            item["isRegion"] = True
        result.append(item)
    return result


def revision_readiness(revision: ExperimentRevision) -> list[dict]:
    """What the current profile lacks for this revision to run, each with the command that provides it
    (empty: it can run here). The dry-run's own checks still decide; this names the missing pieces."""
    from pathlib import Path

    from . import ha_lab

    manifest = revision.manifest or {}
    missing = []
    targets = (manifest.get("blast_radius") or {}).get("targets") or []
    if any(t.get("kind") == "ha_cluster" for t in targets):
        state = ha_lab.load_state()
        if state is None or not ha_lab.process_alive(state.etcd_pid):
            missing.append(
                {
                    "what": "the Patroni pair (leader + synchronous standby with etcd)",
                    "command": "python manage.py lab_ha up",
                }
            )
    pidfiles = set()
    for section in ("method", "rollbacks"):
        for activity in manifest.get(section) or []:
            pidfile = (activity.get("arguments") or {}).get("pidfile")
            if pidfile:
                pidfiles.add(pidfile)
    for pidfile in sorted(pidfiles):
        if not Path(pidfile).exists():
            if "eventbus" in pidfile:
                command = (
                    f"redis-server --port 6380 --daemonize yes --pidfile {pidfile} "
                    "and PIMLAB_EVENTBUS_URL=redis://127.0.0.1:6380/0"
                )
            else:
                command = f"start the process with its PID written to {pidfile} (see the manifest's rollback argv)"
            missing.append({"what": f"a running process with its PID file at {pidfile}", "command": command})
    return missing


def run_workload_series(run: ExperimentRun, *, bucket_seconds: int = 1) -> list[dict]:
    """Per-second request rate, error ratio and p99 latency of the run's background workload: the series
    frozen in its summary when it ended, else (while it runs) read from the attempts files now."""
    frozen = (run.summary or {}).get("workload_series")
    if frozen is not None:
        return frozen
    return workload_series(run.journal or {}, bucket_seconds=bucket_seconds)


# The run report's SLO chart: the engine's burn rate over this window, from 5 minutes before the run.
RUN_BURN_WINDOW = "5m"
RUN_BURN_LEAD = timedelta(minutes=5)


def run_burn_series(run: ExperimentRun) -> list[dict]:
    """The SLO engine's burn rate of every SLO over the run: the series frozen in its summary when it
    ended, else (while it runs) read now. Raises the SLO source's error when it cannot be read."""
    frozen = (run.summary or {}).get("slo_burn_series")
    if frozen is not None:
        return frozen
    return burn_series_over(started_at=run.started_at, ended_at=run.ended_at or timezone.now())


def burn_series_over(*, started_at: datetime, ended_at: datetime) -> list[dict]:
    """About 60 points from 5 minutes before the run, at least 15 s apart, the last one at its end."""
    lead_start = started_at - RUN_BURN_LEAD
    step = max((ended_at - lead_start) / 60, timedelta(seconds=15))
    points = math.ceil((ended_at - lead_start) / step)
    return slo_burn_series(window=RUN_BURN_WINDOW, start=ended_at - points * step, end=ended_at, step=step)


def workload_series(journal: dict, *, bucket_seconds: int = 1) -> list[dict]:
    """The workload series of a journal, read from the attempts file each step recorded (``workload_start``
    records one; empty when the run had none)."""
    from pathlib import Path

    from .workload import read_attempts

    files = [
        entry["output"].get("attempts_file")
        for entry in journal.get("run") or []
        if isinstance(entry.get("output"), dict)
    ]
    records = [r for path in files if path for r in read_attempts(Path(path))]
    if not records:
        return []
    origin = min(r["start"] for r in records)
    buckets: dict[int, list[dict]] = {}
    for record in records:
        buckets.setdefault(int((record["end"] - origin) // bucket_seconds), []).append(record)
    series = []
    for index in range(max(buckets) + 1):
        attempts = buckets.get(index, [])
        latencies = sorted(r["end"] - r["start"] for r in attempts)
        errors = sum(1 for r in attempts if not r.get("ok"))
        series.append(
            {
                "t": datetime.fromtimestamp(origin + index * bucket_seconds, tz=UTC).isoformat(),
                "request_rate": len(attempts) / bucket_seconds,
                "api_error_ratio": errors / len(attempts) if attempts else None,
                "p99_seconds": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None,
            }
        )
    return series
