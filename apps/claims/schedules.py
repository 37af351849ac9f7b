from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Nightly, outside clinic hours: moves claims between storage tiers by their retention class.
    "claims-retention-sweep": {"task": "claims.retention_sweep", "schedule": crontab(minute=17, hour=2)},
}
