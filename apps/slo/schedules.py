"""Periodic SLO work. The evaluation round also runs the built-in sampler when no Prometheus is
configured, so its cadence is the sampling interval (``PIMLAB_SLO_EVALUATION_SECONDS``)."""

from celery.schedules import crontab
from django.conf import settings

_EVERY = float(settings.PIMLAB_SLO_EVALUATION_SECONDS)

BEAT_SCHEDULE = {
    # A round that could not start before the next one is due is dropped, not queued behind it.
    "slo-evaluate-all": {"task": "slo.evaluate_all", "schedule": _EVERY, "options": {"expires": _EVERY * 0.9}},
    "slo-alert-deliveries-retry": {"task": "slo.alert_events_deliver_pending", "schedule": 60.0},
    "slo-samples-prune": {"task": "slo.samples_prune", "schedule": crontab(minute=17, hour=3)},
}
