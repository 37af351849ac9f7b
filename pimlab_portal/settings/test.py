"""Test profile: the services profile on the local PostgreSQL and Redis.

Defaults point at 127.0.0.1 with trust auth; ``PIMLAB_TEST_DB_PREFIX`` keeps parallel checkouts
apart, and the PIMLAB_*_URL variables override everything.
"""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, REDIS_BROKER_TRANSPORT_OPTIONS, VAR_DIR
from .databases import build_databases, shard_aliases

_pg = os.environ.get("PIMLAB_TEST_PG", "postgres://postgres@127.0.0.1:5432")
_prefix = os.environ.get("PIMLAB_TEST_DB_PREFIX", "pimlab")
_redis_db = os.environ.get("PIMLAB_TEST_REDIS_DB", "1")
_env = {
    "PIMLAB_CATALOG_URL": f"{_pg}/{_prefix}_catalog",
    "PIMLAB_SHARD_URLS": f"{_pg}/{_prefix}_shard0,{_pg}/{_prefix}_shard1",
    "PIMLAB_AUDIT_URL": f"{_pg}/{_prefix}_audit",
}
_env.update({k: v for k, v in os.environ.items() if k.startswith("PIMLAB_")})
DATABASES = build_databases(VAR_DIR, _env)
SHARD_ALIASES = shard_aliases(DATABASES)
# Tests empty their databases between cases with TRUNCATE, which the audit trail refuses unless the
# database owner's session says so (apps/audits/migrations/0005_audit_store_hardening.py).
for _config in DATABASES.values():
    if _config["ENGINE"].startswith("django.db.backends.postgresql"):
        _options = _config.setdefault("OPTIONS", {})
        _options["options"] = f"{_options.get('options', '')} -c pimlab.allow_truncate=on".strip()

PIMLAB_REDIS_URL = _env.get("PIMLAB_REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}")
PIMLAB_EVENTBUS_URL = _env.get("PIMLAB_EVENTBUS_URL", PIMLAB_REDIS_URL)
PIMLAB_TRACE_STORE_URL = _env.get("PIMLAB_TRACE_STORE_URL", PIMLAB_REDIS_URL)
CELERY_BROKER_URL = _env.get("PIMLAB_BROKER_URL", PIMLAB_REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_TRANSPORT_OPTIONS
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PIMLAB_SHARD_MAP_TTL_SECONDS = 30.0
STATICFILES_DIRS = [BASE_DIR / "static"]
# gunicorn servers started by the suite serve the portal's static files as under `make run`.
WHITENOISE_USE_FINDERS = True
