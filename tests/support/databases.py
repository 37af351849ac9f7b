"""This test run's databases as a child process sees them, and faults on their connections."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connections


def database_url(alias: str) -> str:
    """The URL of one of this run's test databases, as the PIMLAB_*_URL variables spell it."""
    config = connections[alias].settings_dict
    return f"postgres://{config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment with the test settings pointed at this run's test databases, so
    a child process (Celery worker, gunicorn, a CLI) works on the same data; ``overrides`` win."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.test",
        "PIMLAB_CATALOG_URL": database_url("default"),
        "PIMLAB_SHARD_URLS": ",".join(database_url(alias) for alias in settings.SHARD_ALIASES),
        "PIMLAB_AUDIT_URL": database_url("audit"),
        **overrides,
    }


def backend_kill(alias: str) -> int:
    """Terminate the server process behind this thread's connection to ``alias`` from a second
    connection, as a database restart or failover would; returns its pid."""
    connection = connections[alias]
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    killer = connections.create_connection(alias)
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        killer.close()
    return pid
