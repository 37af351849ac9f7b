"""Periodic tasks of the audit trail (collected by pimlab_portal.celery once Django is set up)."""

from __future__ import annotations

from django.conf import settings

BEAT_SCHEDULE = {
    "audit-ship-all-shards": {
        "task": "audits.ship_all",
        "schedule": float(settings.PIMLAB_AUDIT_SHIP_INTERVAL_SECONDS),
        "options": {"expires": 30},
    },
    "audit-verify-all-chains": {
        "task": "audits.verify_all",
        "schedule": float(settings.PIMLAB_AUDIT_VERIFY_INTERVAL_SECONDS),
        "options": {"expires": 600},
    },
}
