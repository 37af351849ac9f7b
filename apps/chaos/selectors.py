"""Reads of the chaos controller."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from apps.slo.models import TimelineAnnotation

from .models import Experiment, ExperimentRevision, ExperimentRun


def experiment_list() -> QuerySet[Experiment]:
    return Experiment.objects.prefetch_related("revisions").order_by("key")


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
