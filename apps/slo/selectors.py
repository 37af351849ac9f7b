"""Reads of SLO status, series and the timeline. Nothing here samples or records alerts: that is
``services.slo_evaluate_all``'s job."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from .burn_rates import BURN_WINDOWS
from .engine import (
    EventCounts,
    EventSource,
    SloEvaluation,
    burn_rate,
    slo_evaluation_compute,
    slo_evaluation_from_counts,
)
from .errors import SloNotFound
from .models import AlertEvent, ServiceLevelObjective, TimelineAnnotation
from .sampler import SampledEventSource
from .sources import default_event_source, definition_of

MAX_SERIES_POINTS = 1500


def slo_status_list(*, at: datetime | None = None, source: EventSource | None = None) -> list[dict]:
    """Every enabled SLO's status now: name, objective, window_days, attainment,
    error_budget_remaining_ratio/minutes, burn_rates per window, alert_state (ok|ticket|page)."""
    at = at or timezone.now()
    source = source or default_event_source()
    definitions = [definition_of(slo) for slo in ServiceLevelObjective.objects.filter(enabled=True)]
    if isinstance(source, SampledEventSource):
        # One query for every SLO's samples, so a list page's queries do not grow with its rows.
        source.preload_many(definitions, start=at, end=at)
    return [slo_evaluation_compute(definition, source=source, at=at).as_status() for definition in definitions]


def slo_status(name: str, *, at: datetime | None = None, source: EventSource | None = None) -> dict:
    slo = _enabled_slo(name)
    return slo_evaluation_compute(
        definition_of(slo), source=source or default_event_source(), at=at or timezone.now()
    ).as_status()


def slo_series(
    name: str, *, start: datetime, end: datetime, step: timedelta, source: EventSource | None = None
) -> dict:
    """Burn rates, budget and alert state at each step of ``[start, end]``, with the timeline
    annotations (chaos drills and the like) and the alert events of the range, for plotting."""
    slo = _enabled_slo(name)
    definition = definition_of(slo)
    source = source or default_event_source()
    moments = []
    moment = start
    while moment <= end:
        moments.append(moment)
        moment += step
    counts_series = getattr(source, "counts_series", None)
    if counts_series is not None:
        # Prometheus: two range queries per window rather than two instant queries per window and point.
        windows = {"period": timedelta(days=definition.window_days), **BURN_WINDOWS}
        series = {
            window: counts_series(definition, window=length, start=start, end=end, step=step)
            for window, length in windows.items()
        }
        evaluations = [
            slo_evaluation_from_counts(
                definition,
                at=m,
                source=source.kind,
                period=series["period"][i],
                windows={window: series[window][i] for window in BURN_WINDOWS},
            )
            for i, m in enumerate(moments)
        ]
    else:
        if isinstance(source, SampledEventSource):
            source.preload(definition, start=start, end=end)
        evaluations = [slo_evaluation_compute(definition, source=source, at=m) for m in moments]
    points = []
    for moment, evaluation in zip(moments, evaluations, strict=True):
        points.append(
            {
                "t": moment.isoformat(),
                "attainment": round(evaluation.attainment, 9),
                "error_budget_remaining_ratio": round(evaluation.error_budget_remaining_ratio, 9),
                "error_budget_remaining_minutes": round(evaluation.error_budget_remaining_minutes, 6),
                "burn_rates": {k: round(v, 6) for k, v in evaluation.burn_rates.items()},
                "alert_state": evaluation.alert_state,
                "events": {"total": evaluation.period.total, "bad": evaluation.period.bad},
                "window_events": {w: {"total": c.total, "bad": c.bad} for w, c in evaluation.windows.items()},
            }
        )
    return {
        "name": slo.name,
        "objective": slo.objective,
        "window_days": slo.window_days,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "step_seconds": step.total_seconds(),
        "points": points,
        "annotations": [_annotation_dict(a) for a in timeline_annotations_between(start=start, end=end)],
        "alerts": [
            {
                "occurred_at": e.occurred_at.isoformat(),
                "severity": e.severity,
                "status": e.status,
                "annotations": e.annotations,
            }
            for e in AlertEvent.objects.filter(
                labels__slo=slo.name, occurred_at__gte=start, occurred_at__lte=end
            ).order_by("occurred_at")
        ],
    }


def _moments(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    moments, moment = [], start
    while moment <= end:
        moments.append(moment)
        moment += step
    return moments


def slo_window_series(
    name: str, *, start: datetime, end: datetime, step: timedelta, source: EventSource | None = None
) -> dict:
    """Burn rate, events and alert state of every burn-rate window at each step of ``[start, end]``:
    ``slo_series`` without the period's counts, so it reads samples back only as far as the longest
    burn-rate window (3 d), not a whole SLO period before ``start``."""
    slo = _enabled_slo(name)
    definition = definition_of(slo)
    source = source or default_event_source()
    moments = _moments(start, end, step)
    counts_series = getattr(source, "counts_series", None)
    if counts_series is not None:
        by_window = {
            window: counts_series(definition, window=length, start=start, end=end, step=step)
            for window, length in BURN_WINDOWS.items()
        }
    else:
        if isinstance(source, SampledEventSource):
            source.preload(definition, start=start, end=end, lookback=max(BURN_WINDOWS.values()))
        by_window = {
            window: [source.counts(definition, window=length, at=m) for m in moments]
            for window, length in BURN_WINDOWS.items()
        }
    points = []
    for i, moment in enumerate(moments):
        evaluation = slo_evaluation_from_counts(
            definition,
            at=moment,
            source=source.kind,
            period=EventCounts(),
            windows={window: counts[i] for window, counts in by_window.items()},
        )
        points.append(
            {
                "t": moment.isoformat(),
                "burn_rates": {k: round(v, 6) for k, v in evaluation.burn_rates.items()},
                "alert_state": evaluation.alert_state,
                "window_events": {w: {"total": c.total, "bad": c.bad} for w, c in evaluation.windows.items()},
            }
        )
    return {"name": slo.name, "start": start.isoformat(), "end": end.isoformat(), "points": points}


def slo_budget_burndown(
    name: str, *, start: datetime, end: datetime, step: timedelta, source: EventSource | None = None
) -> dict:
    """The error budget burning down over ``[start, end]`` (an SLO period): at each step the engine's
    budget left for the events from ``start`` to that step, so the last point is the SLO's budget left
    at ``end`` over its period. Reads the events of consecutive steps only: nothing before ``start``."""
    slo = _enabled_slo(name)
    definition = definition_of(slo)
    source = source or default_event_source()
    moments = _moments(start, end, step)
    counts_series = getattr(source, "counts_series", None)
    if len(moments) < 2:
        steps: list[EventCounts] = []
    elif counts_series is not None:
        steps = counts_series(definition, window=step, start=moments[1], end=moments[-1], step=step)
    else:
        if isinstance(source, SampledEventSource):
            source.preload(definition, start=start, end=end, lookback=timedelta(0))
        steps = [source.counts(definition, window=step, at=m) for m in moments[1:]]
    total = bad = 0.0
    points = []
    for moment, counts in zip(moments, [EventCounts(), *steps], strict=True):
        total, bad = total + counts.total, bad + counts.bad
        evaluation = SloEvaluation(
            definition=definition, at=moment, source=source.kind, period=EventCounts(total=total, bad=bad), windows={}
        )
        points.append(
            {
                "t": moment.isoformat(),
                "error_budget_remaining_ratio": round(evaluation.error_budget_remaining_ratio, 9),
                "error_budget_remaining_minutes": round(evaluation.error_budget_remaining_minutes, 6),
                "events": {"total": total, "bad": bad},
            }
        )
    return {"name": slo.name, "start": start.isoformat(), "end": end.isoformat(), "points": points}


def slo_budget_consumed(*, start: datetime, end: datetime, source: EventSource | None = None) -> list[dict]:
    """Per enabled SLO: the engine's error budget left at ``start`` and at ``end`` and what was consumed
    between them (a chaos run's start and end), as ratio and minutes."""
    source = source or default_event_source()
    return budget_consumed(
        before=slo_status_list(at=start, source=source), after=slo_status_list(at=end, source=source)
    )


def budget_consumed(*, before: list[dict], after: list[dict]) -> list[dict]:
    """Pure: budget consumed between two status lists (``slo_status_list`` at two moments), per SLO
    present in both, in the order of ``after``. Negative when the budget grew back (old errors left
    the rolling window)."""
    at_start = {s["name"]: s for s in before}
    rows = []
    for status in after:
        start = at_start.get(status["name"])
        if start is None:
            continue
        rows.append(
            {
                "name": status["name"],
                "before": start["error_budget_remaining_ratio"],
                "after": status["error_budget_remaining_ratio"],
                "consumed": start["error_budget_remaining_ratio"] - status["error_budget_remaining_ratio"],
                "minutes": start["error_budget_remaining_minutes"] - status["error_budget_remaining_minutes"],
            }
        )
    return rows


def slo_burn_series(
    *, window: str, start: datetime, end: datetime, step: timedelta, source: EventSource | None = None
) -> list[dict]:
    """The burn rate of one window (e.g. ``5m``) of every enabled SLO at each step of ``[start, end]``:
    what ``slo_series`` gives for that window, without the period's counts, so a live page polling it
    reads minutes of samples rather than the whole SLO period."""
    length = BURN_WINDOWS[window]
    source = source or default_event_source()
    definitions = [definition_of(slo) for slo in ServiceLevelObjective.objects.filter(enabled=True)]
    moments = []
    moment = start
    while moment <= end:
        moments.append(moment)
        moment += step
    counts_series = getattr(source, "counts_series", None)
    if counts_series is None and isinstance(source, SampledEventSource):
        source.preload_many(definitions, start=start, end=end, lookback=length)
    result = []
    for definition in definitions:
        if counts_series is not None:
            counts = counts_series(definition, window=length, start=start, end=end, step=step)
        else:
            counts = [source.counts(definition, window=length, at=m) for m in moments]
        result.append(
            {
                "name": definition.name,
                "window": window,
                "points": [
                    {"t": m.isoformat(), "burn_rate": round(burn_rate(definition, c), 6)}
                    for m, c in zip(moments, counts, strict=True)
                ],
            }
        )
    return result


def timeline_annotations_between(*, start: datetime, end: datetime, tags: list[str] | None = None):
    """Annotations that overlap ``[start, end]`` (a span counts if any part of it does)."""
    overlapping = Q(occurred_at__gte=start, occurred_at__lte=end) | Q(
        occurred_at__lt=start, ended_at__isnull=False, ended_at__gte=start
    )
    annotations = TimelineAnnotation.objects.filter(overlapping).order_by("occurred_at")
    if tags:
        annotations = [a for a in annotations if set(tags) <= set(a.tags or [])]
    return list(annotations)


def grafana_annotations(*, start: datetime, end: datetime, tags: list[str] | None = None) -> list[dict]:
    """Timeline annotations in the shape Grafana's JSON/SimpleJSON annotation queries expect."""
    return [
        {
            "time": int(a.occurred_at.timestamp() * 1000),
            "timeEnd": int((a.ended_at or a.occurred_at).timestamp() * 1000),
            "isRegion": a.ended_at is not None,
            "title": f"{a.source}: {a.text}",
            "text": a.text + (f" (ref {a.reference})" if a.reference else ""),
            "tags": [a.source, *(a.tags or [])],
        }
        for a in timeline_annotations_between(start=start, end=end, tags=tags)
    ]


def _annotation_dict(annotation: TimelineAnnotation) -> dict:
    return {
        "occurred_at": annotation.occurred_at.isoformat(),
        "ended_at": annotation.ended_at.isoformat() if annotation.ended_at else None,
        "source": annotation.source,
        "text": annotation.text,
        "tags": annotation.tags,
        "reference": annotation.reference,
    }


def _enabled_slo(name: str) -> ServiceLevelObjective:
    slo = ServiceLevelObjective.objects.filter(name=name, enabled=True).first()
    if slo is None:
        raise SloNotFound(name)
    return slo
