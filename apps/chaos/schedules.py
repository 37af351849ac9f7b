"""Periodic tasks of the chaos controller (collected by pimlab_portal.celery)."""

BEAT_SCHEDULE = {
    # GitOps: pick up new or changed manifests from the experiments folder.
    "chaos-reconcile": {"task": "chaos.reconcile", "schedule": 60.0},
}
