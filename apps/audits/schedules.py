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
    "audit-verify-all-chains": {
        "task": "audits.verify_all",
        # The default matches PIMLAB_AUDIT_VERIFY_INTERVAL_SECONDS.
        "schedule": float(os.environ.get("PIMLAB_AUDIT_VERIFY_INTERVAL_SECONDS", "900")),
        "options": {"expires": 600},
    },
}
