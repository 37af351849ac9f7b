"""Dependency checks behind /readyz: every configured database and the Celery broker."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connections


def check_database(alias: str) -> dict:
    started = time.perf_counter()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        connections[alias].close_if_unusable_or_obsolete()
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_broker() -> dict:
    from pimlab_portal.celery import app

    started = time.perf_counter()
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def readiness() -> dict:
    checks = {f"database:{alias}": check_database(alias) for alias in settings.DATABASES}
    checks["broker"] = check_broker()
    return checks
