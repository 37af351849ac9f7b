"""Dependency checks behind /readyz: every configured database, the Celery broker and Redis
(event bus) when configured. Each check reports ok, latency or the error, and a target that
names the dependency without credentials."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections

CHECK_TIMEOUT_SECONDS = 2.0


def _target(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if host else f"{parts.scheme}://"


def _failure(exc: BaseException, **extra) -> dict:
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:300], **extra}


def _database_target(config: dict) -> str:
    vendor = config["ENGINE"].rsplit(".", 1)[-1]
    if not config.get("HOST"):
        return f"{vendor}:{config['NAME']}"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"{vendor}://{config['HOST']}{port}/{config['NAME']}"


def check_database(alias: str) -> dict:
    target = _database_target(connections[alias].settings_dict)
    started = time.perf_counter()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        connections[alias].close_if_unusable_or_obsolete()
        return _failure(exc, target=target)
    return {"ok": True, "target": target, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_broker() -> dict:
    # The project's Celery app is the current app (pimlab_portal/__init__.py creates it), so this
    # layer stays below the project package it would otherwise import.
    from celery import current_app as app

    url = settings.CELERY_BROKER_URL
    started = time.perf_counter()
    try:
        with app.connection_for_write(url=url, connect_timeout=CHECK_TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT_SECONDS
            )
    except Exception as exc:
        return _failure(exc, target=_target(url))
    return {"ok": True, "target": _target(url), "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_redis(url: str) -> dict:
    import redis

    started = time.perf_counter()
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except Exception as exc:
        return _failure(exc, target=_target(url))
    finally:
        client.close()
    return {"ok": True, "target": _target(url), "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def readiness() -> dict:
    checks = {f"database:{alias}": check_database(alias) for alias in settings.DATABASES}
    checks["broker"] = check_broker()
    redis_urls = {settings.PIMLAB_EVENTBUS_URL, settings.PIMLAB_REDIS_URL}
    for url in sorted(u for u in redis_urls if u.startswith(("redis://", "rediss://"))):
        name = "eventbus" if url == settings.PIMLAB_EVENTBUS_URL else "redis"
        checks[name] = check_redis(url)
    return checks
