"""SLO overview and SLO page: the SLO engine's own figures (apps.slo.selectors), never a second version."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from apps.chaos.selectors import run_windows_between
from apps.slo.models import AlertEvent, ServiceLevelObjective
from apps.slo.prometheus_reader import PrometheusQueryError
from apps.slo.prometheus_rules import prometheus_rules_yaml
from apps.slo.selectors import (
    SloNotFound,
    slo_budget_burndown,
    slo_status,
    slo_status_list,
    slo_window_series,
)
from apps.slo.sources import default_event_source, definition_of

from .access import console_reader
from .charts import bands_on, chart_block, chart_spec
from .highlight import highlighted

ALERT_STATE_WORDS = {"ok": "OK: no burn-rate alert", "ticket": "Ticket: slow burn", "page": "Paging: fast burn"}
RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "1d": timedelta(days=1), "7d": timedelta(days=7)}
SORTS = {
    "budget": lambda s: s["error_budget_remaining_ratio"],
    "name": lambda s: s["name"],
    "attainment": lambda s: s["attainment"],
    "objective": lambda s: s["objective"],
    "alert": lambda s: {"page": 0, "ticket": 1, "ok": 2}[s["alert_state"]],
}
SORT_HEADINGS = [
    ("name", "SLO"),
    ("objective", "Objective"),
    ("", "Window"),
    ("attainment", "Attainment"),
    ("budget", "Error budget left"),
    ("", "Burn rate, long / short window"),
    ("alert", "Alert"),
]
POINTS = 120


def burn_state(pair: dict) -> str:
    """Kibana's words for a window pair: both windows over the factor, only the long, only the short, neither."""
    long_over = pair["long_burn_rate"] > pair["factor"]
    short_over = pair["short_burn_rate"] > pair["factor"]
    if long_over and short_over:
        return "Critical" if pair["firing"] else "Critical (too few events to alert)"
    if long_over:
        return "Recovering"
    if short_over:
        return "Increasing"
    return "Acceptable"


def _decorate(status: dict) -> dict:
    status["alert_words"] = ALERT_STATE_WORDS[status["alert_state"]]
    status["objective_percent"] = f"{status['objective']:.3%}"
    status["attainment_percent"] = f"{status['attainment']:.4%}"
    status["budget_percent"] = f"{status['error_budget_remaining_ratio']:.2%}"
    status["budget_state"] = "exhausted" if status["error_budget_remaining_ratio"] < 0 else "left"
    status["below_objective"] = status["attainment"] < status["objective"]
    # Pyrra's warning: fewer events than one allowed error means the attainment says little yet.
    status["too_few_events"] = (1 - status["objective"]) * status["events"]["total"] < 1
    for pair in status["alert_windows"]:
        pair["state"] = burn_state(pair)
    return status


def _unavailable(request, exc: PrometheusQueryError, template: str, context: dict):
    context["refusal"] = {
        "title": "SLI source unavailable",
        "detail": str(exc),
        "remediation": "Prometheus (PIMLAB_PROMETHEUS_URL) did not answer; retry in a minute or check its status.",
    }
    return render(request, template, context, status=503)


@require_GET
@console_reader
def slo_list_page(request):
    sort = request.GET.get("sort", "budget")
    if sort not in SORTS:
        sort = "budget"
    descending = request.GET.get("dir") == "desc"
    context = {"sort": sort, "descending": descending, "sort_headings": SORT_HEADINGS}
    try:
        statuses = [_decorate(s) for s in slo_status_list()]
    except PrometheusQueryError as exc:
        return _unavailable(request, exc, "console/slos.html", {**context, "slos": []})
    statuses.sort(key=SORTS[sort], reverse=descending)
    return render(request, "console/slos.html", {**context, "slos": statuses})


def _end_of(request):
    text = request.GET.get("end", "")
    if not text:
        return timezone.now(), ""
    moment = parse_datetime(text.replace(" ", "+"))
    if moment is None:
        return None, "Give end as an ISO 8601 time, e.g. 2026-03-02T00:30:00Z."
    return (moment if timezone.is_aware(moment) else timezone.make_aware(moment)), ""


def slo_page_charts(name: str, *, end, range_key: str) -> dict:
    """The SLO page's data: the engine's status, its period and recent series, and chart specs of them."""
    # Exactly what the charts plot, read once: the period's budget burning down (its samples), then the
    # burn-rate windows of the range and the status at its end (within those samples when they fit).
    source = default_event_source()
    window_days = ServiceLevelObjective.objects.filter(name=name, enabled=True).values_list("window_days", flat=True)
    if not window_days:
        raise SloNotFound(f"There is no enabled SLO named {name!r}.")
    period = timedelta(days=window_days[0])
    span = RANGES[range_key]
    period_series = slo_budget_burndown(name, start=end - period, end=end, step=period / POINTS, source=source)
    recent = slo_window_series(
        name, start=end - span, end=end, step=max(span / POINTS, timedelta(seconds=30)), source=source
    )
    status = _decorate(slo_status(name, at=end, source=source))
    runs_period = run_windows_between(start=end - period, end=end)
    runs_recent = [r for r in runs_period if r["end"] >= recent["start"]]

    period_moments = [p["t"] for p in period_series["points"]]
    recent_moments = [p["t"] for p in recent["points"]]
    period_bands = bands_on(period_moments, runs_period)
    recent_bands = bands_on(recent_moments, runs_recent)
    windows = list(recent["points"][0]["burn_rates"]) if recent["points"] else []
    thresholds = [
        {"value": pair["factor"], "label": f"{pair['severity']} {pair['long_window']}/{pair['short_window']} "
         f"{pair['factor']:g}×"}
        for pair in status["alert_windows"]
    ]  # fmt: skip
    budget = chart_spec(
        title="Error budget remaining over the period (burn-down from its start)",
        moments=period_moments,
        datasets=[
            {
                "label": "budget remaining (ratio)",
                "data": [p["error_budget_remaining_ratio"] for p in period_series["points"]],
            },
            {
                "label": "budget remaining (minutes)",
                "data": [p["error_budget_remaining_minutes"] for p in period_series["points"]],
                "hidden": True,
            },
        ],
        y_label="ratio of the error budget",
        thresholds=[{"value": 0, "label": "budget exhausted"}],
        bands=period_bands,
    )
    burn = chart_spec(
        title="Burn rate per window",
        moments=recent_moments,
        datasets=[{"label": w, "data": [p["burn_rates"][w] for p in recent["points"]]} for w in windows],
        y_label="burn rate (× budget)",
        thresholds=thresholds,
        bands=recent_bands,
    )
    events = chart_spec(
        title="Good and total events (5 m window at each point)",
        moments=recent_moments,
        datasets=[
            {"label": "total", "data": [p["window_events"]["5m"]["total"] for p in recent["points"]]},
            {
                "label": "good",
                "data": [p["window_events"]["5m"]["total"] - p["window_events"]["5m"]["bad"] for p in recent["points"]],
            },
            {"label": "bad", "data": [p["window_events"]["5m"]["bad"] for p in recent["points"]]},
        ],
        y_label="events",
        bands=recent_bands,
    )
    return {
        "status": status,
        "charts": [
            chart_block("chart-budget", budget),
            chart_block("chart-burn", burn),
            chart_block("chart-events", events),
        ],
        "runs": runs_period,
        "recent": recent,
        "period_series": period_series,
    }


@require_GET
@console_reader
def slo_page(request, name: str):
    slo = ServiceLevelObjective.objects.filter(name=name, enabled=True).first()
    if slo is None:
        raise Http404(f"There is no SLO named {name!r}; the SLO list shows them all.")
    range_key = request.GET.get("range", "6h")
    if range_key not in RANGES:
        range_key = "6h"
    end, problem = _end_of(request)
    context = {"slo": slo, "range_key": range_key, "ranges": list(RANGES), "end_param": request.GET.get("end", "")}
    if problem:
        context["refusal"] = {"title": "Unreadable time", "detail": problem, "remediation": problem}
        return render(request, "console/slo_detail.html", context, status=400)
    try:
        context.update(slo_page_charts(name, end=end, range_key=range_key))
    except SloNotFound as exc:
        raise Http404(str(exc)) from exc
    except PrometheusQueryError as exc:
        return _unavailable(request, exc, "console/slo_detail.html", context)
    definition = definition_of(slo)
    context["rules"] = highlighted(prometheus_rules_yaml([definition]), "yaml")
    events = AlertEvent.objects.filter(labels__slo=slo.name).order_by("-occurred_at")[:50]
    context["alerts"] = [{"event": event, "runbook": _runbook_of(event) or slo.runbook} for event in events]
    return render(request, "console/slo_detail.html", context)


def _runbook_of(event: AlertEvent) -> str:
    return event.annotations.get("runbook_url") or event.annotations.get("runbook") or ""
