"""SLI event counts read through Prometheus' HTTP API (``PIMLAB_PROMETHEUS_URL``)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import requests

from .engine import EventCounts
from .sli_queries import bad_events_expr, promql_duration, total_events_expr
from .specs import SloDefinition


class PrometheusQueryError(RuntimeError):
    """Prometheus answered with an error or could not be reached."""


class PrometheusEventSource:
    kind = "prometheus"

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def instant_value(self, expr: str, *, at: datetime) -> float:
        """The sum of an instant vector at ``at`` (0 when empty: no series means no events)."""
        try:
            response = self._session.get(
                f"{self.base_url}/api/v1/query", params={"query": expr, "time": at.timestamp()}, timeout=self.timeout
            )
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise PrometheusQueryError(f"Prometheus at {self.base_url} did not answer: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusQueryError(f"Prometheus rejected {expr!r}: {body.get('error', body)}")
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            values = [float(result[1])]
        else:
            values = [float(item["value"][1]) for item in result]
        return sum(v for v in values if not math.isnan(v))

    def counts(self, definition: SloDefinition, *, window: timedelta, at: datetime) -> EventCounts:
        duration = promql_duration(window)
        total = self.instant_value(total_events_expr(definition, duration), at=at)
        bad = self.instant_value(bad_events_expr(definition, duration), at=at)
        return EventCounts(total=total, bad=min(max(bad, 0.0), total))
