"""Database topology from the environment: one catalog, N shards, one audit store.

Embedded profile (nothing set): SQLite files under ``var/``. Services profile: URLs in
``PIMLAB_CATALOG_URL``, ``PIMLAB_SHARD_URLS`` (comma-separated, one per shard, in order) and
``PIMLAB_AUDIT_URL``. An ``mssql://`` URL selects SQL Server through mssql-django.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dj_database_url

CATALOG_ALIAS = "default"
AUDIT_ALIAS = "audit"
SHARD_ALIAS_PREFIX = "shard_"

# Health-checked persistent connections: a request reuses its worker's connection (the
# throughput notes measured 4x fewer requests/s with a new connection per request).
CONN_MAX_AGE_SECONDS = int(os.environ.get("PIMLAB_CONN_MAX_AGE", "600"))


def shard_alias(index: int) -> str:
    return f"{SHARD_ALIAS_PREFIX}{index}"


# Every PostgreSQL connection has a connect, statement and lock timeout, so a blackholed server or a
# held row lock ends in an OperationalError (answered 503 + Retry-After) instead of a hung worker.
DEFAULT_TIMEOUTS = {
    "PIMLAB_DB_CONNECT_TIMEOUT_SECONDS": "2",
    "PIMLAB_DB_STATEMENT_TIMEOUT_MS": "30000",
    "PIMLAB_DB_LOCK_TIMEOUT_MS": "5000",
}


def postgres_timeouts(environ) -> tuple[int, str]:
    """(libpq connect_timeout, server options) from the environment, with DEFAULT_TIMEOUTS."""
    value = {name: environ.get(name) or default for name, default in DEFAULT_TIMEOUTS.items()}
    options = (
        f"-c statement_timeout={int(value['PIMLAB_DB_STATEMENT_TIMEOUT_MS'])} "
        f"-c lock_timeout={int(value['PIMLAB_DB_LOCK_TIMEOUT_MS'])}"
    )
    return int(value["PIMLAB_DB_CONNECT_TIMEOUT_SECONDS"]), options


def database_config(url: str, environ=os.environ) -> dict:
    url, multi_host = split_multi_host(url)
    if url.startswith("mssql://"):
        # mssql-django is an optional extra (requirements-mssql.txt).
        config = dj_database_url.parse(url, engine="mssql")
        config.setdefault("OPTIONS", {}).setdefault("driver", "ODBC Driver 18 for SQL Server")
    else:
        config = dj_database_url.parse(url)
    if multi_host:
        config["HOST"], config["PORT"] = multi_host
    config["CONN_MAX_AGE"] = CONN_MAX_AGE_SECONDS
    config["CONN_HEALTH_CHECKS"] = True
    if config["ENGINE"].startswith("django.db.backends.postgresql"):
        connect_timeout, server_options = postgres_timeouts(environ)
        options = config.setdefault("OPTIONS", {})
        options["connect_timeout"] = connect_timeout
        options["options"] = f"{options.get('options', '')} {server_options}".strip()
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process, worker and beat read while one of them writes.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config["TEST"] = {"NAME": None}
    return config


# --- HA shard (chaos drills): libpq multi-host URLs --------------------------------------
# postgres://user@h1:p1,h2:p2/db?target_session_attrs=read-write reaches whichever node of a
# replicated pair is writable, like an availability-group listener. dj-database-url cannot
# parse several hosts, so the host list is set aside and handed to libpq as comma lists.
def split_multi_host(url: str) -> tuple[str, tuple[str, str] | None]:
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        return url, None
    authority, slash, tail = rest.partition("/")
    userinfo, at, hostlist = authority.rpartition("@")
    if "," not in hostlist:
        return url, None
    hosts, ports = [], []
    for member in hostlist.split(","):
        host, _, port = member.rpartition(":") if ":" in member else (member, "", "5432")
        hosts.append(host)
        ports.append(port or "5432")
    placeholder = f"{scheme}://{userinfo}{at}{hosts[0]}:{ports[0]}{slash}{tail}"
    return placeholder, (",".join(hosts), ",".join(ports))


def split_shard_urls(value: str) -> list[str]:
    """Comma-separated URLs; a comma inside a multi-host URL (not followed by a scheme) stays."""
    return [u.strip() for u in re.split(r",(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)", value) if u.strip()]


# --- end HA shard ---------------------------------------------------------------------------


def build_databases(var_dir: Path, environ: os._Environ | dict = os.environ) -> dict:
    catalog_url = environ.get("PIMLAB_CATALOG_URL") or f"sqlite:///{var_dir / 'catalog.sqlite3'}"
    audit_url = environ.get("PIMLAB_AUDIT_URL") or f"sqlite:///{var_dir / 'audit.sqlite3'}"
    shard_urls = split_shard_urls(environ.get("PIMLAB_SHARD_URLS", ""))
    if not shard_urls:
        shard_urls = [f"sqlite:///{var_dir / f'shard{i}.sqlite3'}" for i in range(2)]
    databases = {CATALOG_ALIAS: database_config(catalog_url, environ)}
    for index, url in enumerate(shard_urls):
        databases[shard_alias(index)] = database_config(url, environ)
    databases[AUDIT_ALIAS] = database_config(audit_url, environ)
    return databases


def shard_aliases(databases: dict) -> list[str]:
    return sorted(
        (alias for alias in databases if alias.startswith(SHARD_ALIAS_PREFIX)),
        key=lambda alias: int(alias.removeprefix(SHARD_ALIAS_PREFIX)),
    )
