"""Refusals of the SLO reads."""

from __future__ import annotations

from apps.core.errors import DependencyUnavailable, NotFound


class SloNotFound(NotFound, LookupError):
    """No enabled SLO of that name."""

    code = "unknown_slo"
    title = "Unknown SLO"
    remediation = "GET /api/slo lists the SLOs by name; specs live in slo/specs/."

    def __init__(self, name: str):
        super().__init__(f"There is no SLO named {name!r}.")
        self.name = name


class PrometheusQueryError(DependencyUnavailable, RuntimeError):
    """Prometheus answered with an error or could not be reached."""

    code = "sli_source_unavailable"
    title = "SLI source unavailable"
    remediation = "Prometheus (PIMLAB_PROMETHEUS_URL) did not answer; retry in a minute or check its status."
    dependency = "prometheus"
    retry_after = 60
