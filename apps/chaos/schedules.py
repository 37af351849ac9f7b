"""Periodic tasks of the chaos controller (collected by pimlab_portal.celery)."""

from django.conf import settings

BEAT_SCHEDULE = {
    # GitOps: pick up new or changed manifests from the experiments folder (and retire removed ones).
    "chaos-reconcile": {"task": "chaos.reconcile", "schedule": 60.0},
    # Experiments with a cron `schedule` in their manifest (approved revisions only).
    "chaos-schedule-tick": {"task": "chaos.schedule_tick", "schedule": 60.0},
    # Runs whose worker died: rollbacks, `aborted (worker lost)`, gauge reset, probes resume.
    "chaos-reap-lost-runs": {
        "task": "chaos.reap_lost_runs",
        "schedule": settings.PIMLAB_CHAOS_REAPER_INTERVAL_SECONDS,
        "options": {"expires": settings.PIMLAB_CHAOS_REAPER_INTERVAL_SECONDS * 3},
    },
}
