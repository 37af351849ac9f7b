"""Refusals of the SLO reads."""

from __future__ import annotations

from apps.core.errors import DependencyUnavailable, DomainError, NotFound


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


class AlertReceiverNotConfigured(DomainError):
    """The webhook receiver has no shared token to check against."""

    code = "alert_receiver_not_configured"
    status = 503
    title = "Alert receiver not configured"
    remediation = (
        "Run `make observe` (it creates the token file Alertmanager and the lab share) "
        "or set PIMLAB_ALERT_RECEIVER_TOKEN_FILE to a file holding the token."
    )


class AlertReceiverTokenRefused(DomainError):
    code = "alert_receiver_unauthorized"
    status = 401
    title = "Alert receiver token missing or wrong"
    default_detail = "The webhook needs `Authorization: Bearer <token>` with the receiver token."
    remediation = (
        "Point Alertmanager's webhook `authorization.credentials_file` at "
        "PIMLAB_ALERT_RECEIVER_TOKEN_FILE (dashboards/prometheus/alertmanager.yml does)."
    )
