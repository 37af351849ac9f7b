"""PromQL for an SLO's events over a window: used by the Prometheus reader and by the rule generator,
so what the lab evaluates and what production Prometheus would alert on are the same queries."""

from __future__ import annotations

from datetime import timedelta

from .specs import RatioIndicator, SloDefinition, ThresholdIndicator


def promql_duration(window: timedelta) -> str:
    milliseconds = round(window.total_seconds() * 1000)
    if milliseconds % 1000:
        return f"{milliseconds}ms"
    seconds = milliseconds // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def total_events_expr(definition: SloDefinition, window: str) -> str:
    indicator = definition.indicator
    if isinstance(indicator, ThresholdIndicator):
        return f"count_over_time({indicator.query.promql()}[{window}:{indicator.time_slice_seconds}s])"
    return f"sum(increase({indicator.total.promql()}[{window}]))"


def bad_events_expr(definition: SloDefinition, window: str) -> str:
    indicator = definition.indicator
    if isinstance(indicator, ThresholdIndicator):
        comparison = f"{indicator.query.promql()} {indicator.bad_promql_comparison()} bool {indicator.threshold:g}"
        return f"sum_over_time(({comparison})[{window}:{indicator.time_slice_seconds}s])"
    assert isinstance(indicator, RatioIndicator)
    if indicator.bad is not None:
        return f"(sum(increase({indicator.bad.promql()}[{window}])) or vector(0))"
    assert indicator.good is not None
    good = f"(sum(increase({indicator.good.promql()}[{window}])) or vector(0))"
    return f"({total_events_expr(definition, window)} - {good})"


def error_ratio_expr(definition: SloDefinition, window: str) -> str:
    """Bad events over total events in the window; empty (no alert) when there were no events."""
    indicator = definition.indicator
    if isinstance(indicator, ThresholdIndicator):
        comparison = f"{indicator.query.promql()} {indicator.bad_promql_comparison()} bool {indicator.threshold:g}"
        return f"avg_over_time(({comparison})[{window}:{indicator.time_slice_seconds}s])"
    assert isinstance(indicator, RatioIndicator)
    if indicator.bad is not None:
        return (
            f"(sum(rate({indicator.bad.promql()}[{window}])) or vector(0))\n"
            f"/\nsum(rate({indicator.total.promql()}[{window}]))"
        )
    assert indicator.good is not None
    return (
        f"1 - (\n  (sum(rate({indicator.good.promql()}[{window}])) or vector(0))\n"
        f"  /\n  sum(rate({indicator.total.promql()}[{window}]))\n)"
    )
