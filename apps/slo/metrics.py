"""SLO figures exported at /metrics, read from the catalog on each scrape (the evaluator may run in
another process: a beat-driven worker), plus counts of alert transitions by name/severity/status."""

from __future__ import annotations

import structlog
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = structlog.get_logger(__name__)


class SloCollector(Collector):
    def describe(self):
        # Declaring the names keeps restricted registries (the built-in sampler) from calling collect().
        return list(self._families())

    @staticmethod
    def _families():
        slo = ["slo", "service"]
        return (
            GaugeMetricFamily("slo_objective_ratio", "Target ratio of good events of the SLO.", labels=slo),
            GaugeMetricFamily("slo_attainment_ratio", "Good events over all events in the SLO window.", labels=slo),
            GaugeMetricFamily(
                "slo_error_budget_remaining_ratio", "Share of the error budget left in the window.", labels=slo
            ),
            GaugeMetricFamily(
                "slo_error_budget_remaining_minutes", "Error budget left in the window, in minutes.", labels=slo
            ),
            GaugeMetricFamily("slo_burn_rate", "Error-budget burn rate over a window.", labels=[*slo, "window"]),
            GaugeMetricFamily(
                "slo_alert_firing", "1 while the SLO's burn-rate alert fires.", labels=[*slo, "severity"]
            ),
            CounterMetricFamily(
                "slo_alert_events", "Alert state changes recorded.", labels=["alertname", "severity", "status"]
            ),
        )

    def collect(self):
        from .models import AlertEvent, ServiceLevelObjective

        objective, attainment, remaining, minutes, burn, firing, transitions = self._families()
        try:
            slos = list(ServiceLevelObjective.objects.filter(enabled=True))
            counts = list(AlertEvent.objects.values("name", "severity", "status").annotate(n=Count("id")))
        except Exception as exc:  # a scrape must never fail because the catalog is unreachable
            logger.warning("slo_metrics_unavailable", error=str(exc)[:300])
            return
        for slo in slos:
            labels = [slo.name, slo.service]
            objective.add_metric(labels, slo.objective)
            status = slo.last_status or {}
            if "attainment" in status:
                attainment.add_metric(labels, status["attainment"])
                remaining.add_metric(labels, status["error_budget_remaining_ratio"])
                minutes.add_metric(labels, status["error_budget_remaining_minutes"])
                for window, rate in status.get("burn_rates", {}).items():
                    burn.add_metric([*labels, window], rate)
            firing.add_metric([*labels, "page"], 1.0 if slo.page_firing_since else 0.0)
            firing.add_metric([*labels, "ticket"], 1.0 if slo.ticket_firing_since else 0.0)
        for row in counts:
            transitions.add_metric([row["name"], row["severity"], row["status"]], row["n"])
        yield from (objective, attainment, remaining, minutes, burn, firing, transitions)


_registered = False


def register_slo_collector() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(SloCollector())
        _registered = True
