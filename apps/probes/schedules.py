from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Hourly, off the top of the hour (clear of the nightly jobs at :17). A run that has not started
    # before the next one is due is dropped rather than stacked.
    "probes-run-all-hourly": {
        "task": "probes.run_all",
        "schedule": crontab(minute=41),
        "options": {"expires": 3000},
    },
    "probes-chaos-failover-hourly": {
        "task": "probes.chaos_failover",
        "schedule": crontab(minute=43),
        "options": {"expires": 3000},
    },
}
