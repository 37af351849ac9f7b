"""Periodic SLO work. The evaluation round also runs the built-in sampler when no Prometheus is
configured, so its cadence is the sampling interval (``PIMLAB_SLO_EVALUATION_SECONDS``)."""

import os

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "slo-evaluate-all": {
        "task": "slo.evaluate_all",
        "schedule": float(os.environ.get("PIMLAB_SLO_EVALUATION_SECONDS", "30")),
        "options": {"expires": 25},
    },
    "slo-alert-deliveries-retry": {"task": "slo.alert_events_deliver_pending", "schedule": 60.0},
    "slo-samples-prune": {"task": "slo.samples_prune", "schedule": crontab(minute=17, hour=3)},
}
