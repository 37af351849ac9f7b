"""Alert events in the console: firing and resolved, with severity, labels, runbook and what they belong to."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.slo.models import AlertEvent, AlertStatus

from .access import console_reader

LIMIT = 200


@require_GET
@console_reader
def alert_list_page(request):
    status = request.GET.get("status", "")
    events = AlertEvent.objects.order_by("-occurred_at")
    if status in AlertStatus.values:
        events = events.filter(status=status)
    rows = [
        {
            "event": event,
            "runbook": event.annotations.get("runbook_url") or event.annotations.get("runbook") or "",
            "slo": event.labels.get("slo", ""),
            "experiment": event.labels.get("experiment", ""),
            "run_id": event.labels.get("run_id") or event.annotations.get("run_id") or "",
        }
        for event in events[:LIMIT]
    ]
    return render(request, "console/alerts.html", {"rows": rows, "status": status, "statuses": AlertStatus.choices})
