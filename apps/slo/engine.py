"""The SLO engine: from event counts over windows to attainment, error budget, burn rates and alert state.

Pure computation over an ``EventSource`` (the built-in sampler's stored samples, or Prometheus) and
an explicit evaluation instant, so the clock is injectable and tests can replay synthetic series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from .burn_rates import ALERT_WINDOW_PAIRS, BURN_WINDOWS
from .specs import SloDefinition


@dataclass(frozen=True)
class EventCounts:
    total: float = 0.0
    bad: float = 0.0

    @property
    def error_ratio(self) -> float:
        return self.bad / self.total if self.total > 0 else 0.0


class EventSource(Protocol):
    kind: str

    def counts(self, definition: SloDefinition, *, window: timedelta, at: datetime) -> EventCounts:
        """Events (total and bad) of the SLO in the window ``(at - window, at]``."""
        ...


def burn_rate(definition: SloDefinition, counts: EventCounts) -> float:
    """How many times faster than the budget allows the window's events burn it (1.0 = exactly)."""
    return counts.error_ratio / definition.error_budget


@dataclass(frozen=True)
class PairOutcome:
    severity: str
    long_window: str
    short_window: str
    factor: float
    long_burn_rate: float
    short_burn_rate: float
    long_events: float
    short_events: float
    firing: bool

    def as_dict(self) -> dict:
        return {
            "severity": self.severity,
            "long_window": self.long_window,
            "short_window": self.short_window,
            "factor": self.factor,
            "long_burn_rate": round(self.long_burn_rate, 6),
            "short_burn_rate": round(self.short_burn_rate, 6),
            "long_events": self.long_events,
            "short_events": self.short_events,
            "firing": self.firing,
        }


@dataclass(frozen=True)
class SloEvaluation:
    definition: SloDefinition
    at: datetime
    source: str
    period: EventCounts
    windows: dict[str, EventCounts]
    pairs: list[PairOutcome] = field(default_factory=list)

    @property
    def attainment(self) -> float:
        return 1.0 - self.period.error_ratio

    @property
    def error_budget_remaining_ratio(self) -> float:
        return 1.0 - self.period.error_ratio / self.definition.error_budget

    @property
    def error_budget_remaining_minutes(self) -> float:
        budget_minutes = self.definition.window_days * 24 * 60 * self.definition.error_budget
        return self.error_budget_remaining_ratio * budget_minutes

    @property
    def burn_rates(self) -> dict[str, float]:
        return {name: burn_rate(self.definition, counts) for name, counts in self.windows.items()}

    @property
    def page_firing(self) -> bool:
        return any(p.firing for p in self.pairs if p.severity == "page")

    @property
    def ticket_firing(self) -> bool:
        return any(p.firing for p in self.pairs if p.severity == "ticket")

    @property
    def alert_state(self) -> str:
        if self.page_firing:
            return "page"
        return "ticket" if self.ticket_firing else "ok"

    def as_status(self) -> dict:
        """The status contract: name, objective, window_days, attainment, error budget remaining
        (ratio and minutes), burn_rates per window, alert_state; plus the detail behind them."""
        definition = self.definition
        return {
            "name": definition.name,
            "display_name": definition.display_name,
            "service": definition.service,
            "objective": definition.objective,
            "window_days": definition.window_days,
            "budgeting_method": definition.budgeting_method,
            "attainment": round(self.attainment, 9),
            "error_budget_remaining_ratio": round(self.error_budget_remaining_ratio, 9),
            "error_budget_remaining_minutes": round(self.error_budget_remaining_minutes, 6),
            "burn_rates": {name: round(rate, 6) for name, rate in self.burn_rates.items()},
            "alert_state": self.alert_state,
            "events": {"total": self.period.total, "bad": self.period.bad},
            "window_events": {name: {"total": c.total, "bad": c.bad} for name, c in self.windows.items()},
            "alert_windows": [p.as_dict() for p in self.pairs],
            "min_events_per_window": definition.min_events_per_window,
            "runbook": definition.runbook,
            "source": self.source,
            "evaluated_at": self.at.isoformat(),
        }


def slo_evaluation_compute(definition: SloDefinition, *, source: EventSource, at: datetime) -> SloEvaluation:
    period = source.counts(definition, window=timedelta(days=definition.window_days), at=at)
    windows = {name: source.counts(definition, window=length, at=at) for name, length in BURN_WINDOWS.items()}
    return slo_evaluation_from_counts(definition, at=at, source=source.kind, period=period, windows=windows)


def slo_evaluation_from_counts(
    definition: SloDefinition, *, at: datetime, source: str, period: EventCounts, windows: dict[str, EventCounts]
) -> SloEvaluation:
    # A window with fewer events than the guard (and never an empty one) cannot alert.
    minimum = max(definition.min_events_per_window, 1)
    pairs = []
    for pair in ALERT_WINDOW_PAIRS:
        factor = pair.factor(definition.window_days)
        long_counts, short_counts = windows[pair.long_window], windows[pair.short_window]
        long_burn, short_burn = burn_rate(definition, long_counts), burn_rate(definition, short_counts)
        firing = (
            long_counts.total >= minimum
            and short_counts.total >= minimum
            and long_burn > factor
            and short_burn > factor
        )
        pairs.append(
            PairOutcome(
                severity=pair.severity,
                long_window=pair.long_window,
                short_window=pair.short_window,
                factor=factor,
                long_burn_rate=long_burn,
                short_burn_rate=short_burn,
                long_events=long_counts.total,
                short_events=short_counts.total,
                firing=firing,
            )
        )
    return SloEvaluation(definition=definition, at=at, source=source, period=period, windows=windows, pairs=pairs)
