"""Periodic tasks of the chaos controller (collected by pimlab_portal.celery)."""

BEAT_SCHEDULE = {
    # GitOps: pick up new or changed manifests from the experiments folder.
    "chaos-reconcile": {"task": "chaos.reconcile", "schedule": 60.0},
    # Experiments with a cron `schedule` in their manifest (approved revisions only).
    "chaos-schedule-tick": {"task": "chaos.schedule_tick", "schedule": 60.0},
}
