"""Multiwindow, multi-burn-rate alert policy of the Google SRE workbook (chapter 5, "Alerting on SLOs").

For a 30-day window the workbook pages when 2 % of the budget burns in 1 h (14.4x, confirmed over
5 m) or 5 % in 6 h (6x, confirmed over 30 m), and opens a ticket when 10 % burns in 1 d (3x, 2 h)
or 10 % in 3 d (1x, 6 h). Like Sloth, the windows stay and the factors follow from the share of
budget consumed: ``factor = budget_share * slo_window / long_window`` (28 d gives 13.44, 5.6, 2.8, 0.93).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

BURN_WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}


@dataclass(frozen=True)
class AlertWindowPair:
    severity: str  # "page" or "ticket"
    long_window: str
    short_window: str
    budget_share: float

    def factor(self, window_days: int) -> float:
        return round(self.budget_share * timedelta(days=window_days) / BURN_WINDOWS[self.long_window], 6)


ALERT_WINDOW_PAIRS: tuple[AlertWindowPair, ...] = (
    AlertWindowPair("page", "1h", "5m", 0.02),
    AlertWindowPair("page", "6h", "30m", 0.05),
    AlertWindowPair("ticket", "1d", "2h", 0.10),
    AlertWindowPair("ticket", "3d", "6h", 0.10),
)
