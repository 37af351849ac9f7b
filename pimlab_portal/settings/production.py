"""Production profile: secrets and hosts must come from the environment."""

import os

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only: HSTS for a year (subdomains included), and plain-HTTP requests redirected. The health
# probes of a load balancer that speaks HTTP to the app can be exempted with PIMLAB_SSL_REDIRECT_EXEMPT.
SECURE_HSTS_SECONDS = int(os.environ.get("PIMLAB_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_SSL_REDIRECT = os.environ.get("PIMLAB_SSL_REDIRECT", "1") == "1"
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
CSRF_COOKIE_HTTPONLY = True
# The audit chain is never signed with a generated key in production (apps/audits/chain.py).
PIMLAB_AUDIT_CHAIN_KEYS_REQUIRED = True

# --- Request hot path: head sampling -----------------------------------------------------------
# One root trace in ten is kept (and all of a kept trace, in every process); synthetic probes keep
# all of theirs. Metrics and structured logs (with their trace id) still cover every request. Span
# creation and export were about a fifth of a booking's web-worker CPU with every trace kept.
# PIMLAB_TRACES_SAMPLE_RATIO=1 keeps every trace. Figures: docs/runbooks/05_encounter-write.md.
PIMLAB_TRACES_SAMPLE_RATIO = float(os.environ.get("PIMLAB_TRACES_SAMPLE_RATIO", "0.1"))

# --- Request hot path: shard connection health checks ------------------------------------------
# CONN_HEALTH_CHECKS sends a `SELECT 1` before the first query of every request that reuses a
# connection: one extra round trip per booking. On the shards the booking path does not need it:
# a connection that died (server restart, failover) fails its first statement with
# OperationalError, the booking retries with back-off on a fresh connection, and Django closes a
# connection that raised at the end of the request (close_if_unusable_or_obsolete). The cost is
# on paths without a retry: the first request per worker after a failover answers 503 with
# Retry-After instead of reconnecting silently. The catalog and the audit store keep their checks;
# the catalog's is on the booking path again since bookings take their Idempotency-Key there
# (ADR-013): one `SELECT 1` per booking. PIMLAB_SHARD_CONN_HEALTH_CHECKS=1 restores the shards'.
# Trade-off and figures: docs/runbooks/05_encounter-write.md ("Performance of the write path").
if os.environ.get("PIMLAB_SHARD_CONN_HEALTH_CHECKS", "0") != "1":
    for _alias in SHARD_ALIASES:  # noqa: F405
        DATABASES[_alias]["CONN_HEALTH_CHECKS"] = False  # noqa: F405
# --- end request hot path ----------------------------------------------------------------------
