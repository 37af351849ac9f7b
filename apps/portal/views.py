from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.models import PersonaRole
from apps.core.permissions import persona_role
from apps.outbox.eventbus import get_event_bus
from apps.projections.selectors import financial_kpis, projection_freshness
from apps.telemetry.trace_store import merged_trace
from apps.telemetry.tracing import shared_trace_store, span_store

FINANCIAL_ROLES = {PersonaRole.BILLING_ADMIN, PersonaRole.SRE, PersonaRole.OPERATOR}
TRACE_ROLES = FINANCIAL_ROLES | {PersonaRole.CLINICIAN}


def _require_role(request, roles) -> None:
    if persona_role(request.user) not in roles and not request.user.is_staff:
        raise PermissionDenied("Your persona may not open this page.")


_LINKS_BY_ROLE = {
    PersonaRole.PATIENT: [
        ("/visits/", "My visits", "your upcoming and past visits, with their notes once released"),
        ("/visits/book", "Book a visit", "choose the type of visit and a time"),
    ],
    PersonaRole.CLINICIAN: [
        ("/worklist", "Worklist", "visits of your care-team patients: write, sign and amend notes, finish visits"),
    ],
    PersonaRole.BILLING_ADMIN: [
        ("/billing/ready", "Ready to bill", "finished visits without a claim, oldest first"),
        ("/claims/", "Claims", "submitted claims, their lines, payments and FHIR export"),
        ("/dashboards/financial", "Financial dashboard", "claims KPIs from the projection, with their staleness"),
    ],
    PersonaRole.SRE: [
        ("/dashboards/financial", "Financial dashboard", "claims KPIs and projection staleness"),
        ("/api/slo", "SLO status", "attainment, error budget and burn rates"),
        ("/admin/", "Django admin", "shards, outbox and dead letters, audit trail, chaos experiments"),
    ],
    PersonaRole.OPERATOR: [
        ("/admin/", "Django admin", "shards, history, audit trail, outbox and dead letters"),
        ("/dashboards/financial", "Financial dashboard", "claims KPIs and projection staleness"),
    ],
}


@require_GET
def home_page(request):
    role = persona_role(request.user)
    links = [{"url": url, "title": title, "text": text} for url, title, text in _LINKS_BY_ROLE.get(role, [])]
    if request.user.is_authenticated and request.user.is_staff and not links:
        links = [{"url": "/admin/", "title": "Django admin", "text": "everything the lab stores"}]
    return render(request, "portal/home.html", {"links": links})


@require_GET
@login_required
def financial_dashboard_page(request):
    _require_role(request, FINANCIAL_ROLES)
    try:
        days = min(max(int(request.GET.get("days", 30)), 1), 366)
    except ValueError:
        days = 30
    kpis = financial_kpis(days=days)
    context = {
        "kpis": kpis,
        "freshness": projection_freshness(bus=get_event_bus),
        "days": days,
        "day_options": sorted({7, 30, 90, days}),
        "chart_data": _chart_data(kpis),
    }
    return render(request, "portal/financial_dashboard.html", context)


def _chart_data(kpis: dict) -> dict:
    """The dashboard's series for Chart.js: the same rows as its tables, as plain numbers."""

    def numbers(rows, key):
        return [float(row[key]) for row in rows]

    return {
        "per_day": {
            "labels": [row["day"] for row in kpis["per_day"]],
            "claims": [row["claims"] for row in kpis["per_day"]],
            "amounts": numbers(kpis["per_day"], "amount"),
        },
        "per_payer": {
            "labels": [row["payer_code"] for row in kpis["per_payer"]],
            "amounts": numbers(kpis["per_payer"], "amount"),
            "paid": numbers(kpis["per_payer"], "paid_amount"),
        },
        "per_status": {
            "labels": [row["status"] for row in kpis["per_status"]],
            "claims": [row["claims"] for row in kpis["per_status"]],
        },
    }


@require_GET
@login_required
def trace_page(request, trace_id: str):
    """One trace as a waterfall: the spans every process exported to the shared trace store (web
    workers, Celery workers, the projection worker) plus this worker's own not yet exported ones.
    OTLP deployments also find the trace in their collector (Tempo, Jaeger) under the same id."""
    _require_role(request, TRACE_ROLES)
    trace_id = trace_id.lower()
    if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
        raise Http404("Not a trace id: a trace id is 32 hexadecimal characters.")
    spans = merged_trace(
        trace_id, shared=shared_trace_store(), local=span_store.trace(trace_id), role=settings.PIMLAB_PROCESS_ROLE
    )
    if not spans:
        raise Http404("This trace is not (or no longer) in the trace store.")
    return render(request, "portal/trace.html", {"trace_id": trace_id, **trace_waterfall(spans)})


MAX_INDENT_LEVEL = 8  # deeper spans share the last indentation (static/portal/portal.css)


def trace_waterfall(spans: list[dict]) -> dict:
    """Rows in tree order (children under their parent, by start) with offsets and bar geometry."""
    origin = min(span["start_ns"] for span in spans)
    total_ns = max(max(span["end_ns"] for span in spans) - origin, 1)
    known = {span["span_id"] for span in spans}
    children: dict[str, list[dict]] = {}
    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in known else ""
        children.setdefault(parent, []).append(span)
    rows: list[dict] = []

    def visit(parent: str, depth: int) -> None:
        for span in children.get(parent, []):
            offset, duration = span["start_ns"] - origin, span["end_ns"] - span["start_ns"]
            rows.append(
                {
                    "name": span["name"],
                    "depth": depth,
                    "indent_level": min(depth, MAX_INDENT_LEVEL),
                    "offset_ms": round(offset / 1e6, 2),
                    "duration_ms": round(duration / 1e6, 2),
                    "left_pct": round(100 * offset / total_ns, 2),
                    "width_pct": max(round(100 * duration / total_ns, 2), 0.3),
                    "span_id": span["span_id"],
                    "parent_id": span["parent_id"],
                    "links": len(span["links"]),
                    "shard_id": span["attributes"].get("shard_id", ""),
                    "process": f"{span['process_role'] or 'process'} {span['pid']}",
                    "error": span["status"] == "ERROR",
                }
            )
            visit(span["span_id"], depth + 1)

    visit("", 0)
    processes = sorted({row["process"] for row in rows})
    return {"spans": rows, "processes": processes, "total_ms": round(total_ns / 1e6, 2)}
