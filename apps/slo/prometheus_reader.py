"""SLI event counts read through Prometheus' HTTP API (``PIMLAB_PROMETHEUS_URL``)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import requests

from .engine import EventCounts
from .errors import PrometheusQueryError
from .sli_queries import bad_events_expr, promql_duration, total_events_expr
from .specs import SloDefinition


class PrometheusEventSource:
    kind = "prometheus"

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def instant_value(self, expr: str, *, at: datetime) -> float:
        """The sum of an instant vector at ``at`` (0 when empty: no series means no events)."""
        body = self._get("/api/v1/query", {"query": expr, "time": at.timestamp()})
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            values = [float(result[1])]
        else:
            values = [float(item["value"][1]) for item in result]
        return sum(v for v in values if not math.isnan(v))

    def range_values(self, expr: str, *, start: datetime, end: datetime, step: timedelta) -> dict[float, float]:
        """The summed range vector of ``expr``: {unix time: value} at start + k * step."""
        body = self._get(
            "/api/v1/query_range",
            {"query": expr, "start": start.timestamp(), "end": end.timestamp(), "step": step.total_seconds()},
        )
        values: dict[float, float] = {}
        for series in body["data"]["result"]:
            for timestamp, value in series["values"]:
                number = float(value)
                if not math.isnan(number):
                    values[round(float(timestamp), 3)] = values.get(round(float(timestamp), 3), 0.0) + number
        return values

    def counts_series(
        self, definition: SloDefinition, *, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[EventCounts]:
        """Counts at start, start + step, ... end, in two range queries instead of two per point."""
        duration = promql_duration(window)
        totals = self.range_values(total_events_expr(definition, duration), start=start, end=end, step=step)
        bads = self.range_values(bad_events_expr(definition, duration), start=start, end=end, step=step)
        points, moment = [], start
        while moment <= end:
            key = round(moment.timestamp(), 3)
            total = totals.get(key, 0.0)
            points.append(EventCounts(total=total, bad=min(max(bads.get(key, 0.0), 0.0), total)))
            moment += step
        return points

    def _get(self, path: str, params: dict) -> dict:
        try:
            body = self._session.get(f"{self.base_url}{path}", params=params, timeout=self.timeout).json()
        except (requests.RequestException, ValueError) as exc:
            raise PrometheusQueryError(f"Prometheus at {self.base_url} did not answer: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusQueryError(f"Prometheus rejected {params.get('query')!r}: {body.get('error', body)}")
        return body

    def counts(self, definition: SloDefinition, *, window: timedelta, at: datetime) -> EventCounts:
        duration = promql_duration(window)
        total = self.instant_value(total_events_expr(definition, duration), at=at)
        bad = self.instant_value(bad_events_expr(definition, duration), at=at)
        return EventCounts(total=total, bad=min(max(bad, 0.0), total))
