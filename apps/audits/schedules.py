"""Periodic tasks of the audit trail (collected by pimlab_portal.celery)."""

from __future__ import annotations

import os

BEAT_SCHEDULE = {
    "audit-ship-all-shards": {
        "task": "audits.ship_all",
        # Settings are not read at import time; the default matches PIMLAB_AUDIT_SHIP_INTERVAL_SECONDS.
        "schedule": float(os.environ.get("PIMLAB_AUDIT_SHIP_INTERVAL_SECONDS", "5")),
        "options": {"expires": 30},
    },
}
