"""Periodic tasks of the outbox (collected by pimlab_portal.celery)."""

BEAT_SCHEDULE = {
    "outbox-relay-every-few-seconds": {
        "task": "outbox.relay_fan_out",
        "schedule": 3.0,
        "options": {"expires": 10},
    },
    "outbox-published-purge-daily": {
        "task": "outbox.published_purge",
        "schedule": 24 * 3600.0,
        "options": {"expires": 3600},
    },
}
