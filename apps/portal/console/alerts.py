"""Alert events in the console: firing and resolved, with severity, labels, runbook and what they belong to."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.chaos.selectors import run_windows_between
from apps.slo.models import AlertEvent, AlertStatus

from .access import console_reader

LIMIT = 200
# An alert raised at a drill's end (its burn check) or shortly after still belongs to it.
RUN_SLACK = timedelta(minutes=10)


def _run_of(event: AlertEvent, runs: list[dict]) -> int | None:
    """The chaos run the alert belongs to: the run of its ``experiment`` label at that time, else the
    run during which it fired."""
    candidates = [
        r
        for r in runs
        if datetime.fromisoformat(r["start"]) <= event.occurred_at <= datetime.fromisoformat(r["end"]) + RUN_SLACK
    ]
    experiment = event.labels.get("experiment")
    if experiment:
        candidates = [r for r in candidates if r["experiment"] == experiment]
    return candidates[-1]["run_id"] if candidates else None


@require_GET
@console_reader
def alert_list_page(request):
    status = request.GET.get("status", "")
    events = AlertEvent.objects.order_by("-occurred_at")
    if status in AlertStatus.values:
        events = events.filter(status=status)
    events = list(events[:LIMIT])
    runs = run_windows_between(start=events[-1].occurred_at - RUN_SLACK, end=events[0].occurred_at) if events else []
    rows = [
        {
            "event": event,
            "runbook": event.annotations.get("runbook_url") or event.annotations.get("runbook") or "",
            "slo": event.labels.get("slo", ""),
            "experiment": event.labels.get("experiment", ""),
            "run_id": _run_of(event, runs),
        }
        for event in events
    ]
    return render(request, "console/alerts.html", {"rows": rows, "status": status, "statuses": AlertStatus.choices})
