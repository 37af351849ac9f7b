"""Settings shared by every profile. Environment variables are listed in README.md."""

from __future__ import annotations

import os
from pathlib import Path

from apps.core.ids import ID_PATTERN

from .databases import build_databases, shard_aliases

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PIMLAB_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "pimlab-insecure-development-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "csp",
    "drf_spectacular",
    # Swagger UI and ReDoc served from the project (no CDN): the lab works offline.
    "drf_spectacular_sidecar",
    "simple_history",
    "django_celery_beat",
    "django_prometheus",
    "django_structlog",
    "apps.core",
    "apps.telemetry",
    "apps.audits",
    "apps.outbox",
    "apps.patients",
    "apps.slo",
    "apps.encounters",
    "apps.projections",
    "apps.chaos",
    "apps.claims",
    "apps.probes",
    "apps.portal",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Serves the admin's static files under gunicorn without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.core.session_idle.SessionIdleTimeoutMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "apps.telemetry.middleware.RequestTelemetryMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Port of the web process; gunicorn.conf.py reads the same variable before Django loads.
PIMLAB_WEB_PORT = int(os.environ.get("PIMLAB_WEB_PORT", "8000"))

ROOT_URLCONF = "pimlab_portal.urls"
WSGI_APPLICATION = "pimlab_portal.wsgi.application"
ASGI_APPLICATION = "pimlab_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.portal.navigation.navigation",
            ],
        },
    },
]

DATABASES = build_databases(VAR_DIR)
SHARD_ALIASES = shard_aliases(DATABASES)
DATABASE_ROUTERS = ["apps.core.router.ShardRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Logical buckets are encoded in every patient-owned id; the shard map assigns them to shards.
PIMLAB_LOGICAL_BUCKETS = 1024
PIMLAB_SHARD_MAP_TTL_SECONDS = float(os.environ.get("PIMLAB_SHARD_MAP_TTL_SECONDS", "30"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Created at start-up with the other embedded folders (apps/core/folders.py), not on import.
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.PersonaTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "apps.core.api_schema.ProblemAutoSchema",
    # The API speaks JSON only: form encodings lose types (a missing boolean reads as false).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "apps.core.api_errors.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PIM SRE Lab API",
    "DESCRIPTION": "Healthcare workload, SLOs and chaos drills of the PIM SRE Lab.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response bodies are separate components (read-only fields differ).
    "COMPONENT_SPLIT_REQUEST": True,
    # Ids in paths are digit strings, as in bodies (63-bit values overflow JavaScript numbers). The
    # encounter routes keep <int:...> because dashboards select on their route label.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "int": {"type": "string", "pattern": ID_PATTERN},
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: a broker that needs no server unless PIMLAB_BROKER_URL is set.
# "localhost" only silences kombu's missing-hostname warning; the filesystem transport ignores it.
CELERY_BROKER_URL = os.environ.get("PIMLAB_BROKER_URL", "filesystem://localhost//")
_broker_dir = VAR_DIR / "broker"  # its folders are created at start-up (apps/core/folders.py)
# A blackholed Redis broker fails a publish within seconds instead of blocking the request.
REDIS_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange tables; kombu's default is a "control" folder in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else REDIS_BROKER_TRANSPORT_OPTIONS
)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# A task whose worker died goes back to the queue instead of being acknowledged as done.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic tasks are declared in code by each app (CELERY_BEAT_SCHEDULE) and synced by beat.
CELERY_BEAT_SCHEDULE: dict = {}

# Event bus: Redis Streams when set, otherwise a table in the catalog (embedded profile).
PIMLAB_EVENTBUS_URL = os.environ.get("PIMLAB_EVENTBUS_URL", "")
PIMLAB_REDIS_URL = os.environ.get("PIMLAB_REDIS_URL", "")
# Each event stream keeps about this many entries (XADD MAXLEN ~): 100x the projection backlog alert.
PIMLAB_EVENTBUS_STREAM_MAXLEN = int(os.environ.get("PIMLAB_EVENTBUS_STREAM_MAXLEN", "100000"))
# A projection entry delivered more times than this is a poison message: dead-lettered with an alert.
PIMLAB_PROJECTION_MAX_DELIVERIES = int(os.environ.get("PIMLAB_PROJECTION_MAX_DELIVERIES", "5"))

# Telemetry
# Per process, when no OTLP endpoint is set. Every kept span stays on the heap that full garbage
# collections scan: 5,000 measured ~0.1 ms more GC CPU per booking and 3x longer GC pauses than 500.
PIMLAB_SPAN_STORE_SIZE = int(os.environ.get("PIMLAB_SPAN_STORE_SIZE", "1000"))
PIMLAB_SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "pimlab-portal")
# Head sampling: the share of root traces kept (parent-based: a trace is kept or dropped whole).
# 1.0 keeps every trace; the production profile keeps 0.1. OTEL_TRACES_SAMPLER(_ARG), when set, win.
# Synthetic probes always keep theirs (apps/telemetry/tracing.py).
PIMLAB_TRACES_SAMPLE_RATIO = float(os.environ.get("PIMLAB_TRACES_SAMPLE_RATIO", "1.0"))
# Shared trace store (Redis): every process exports its spans there in batches; the trace page reads
# it. Bounded by stream length and by per-trace expiry. Empty (the embedded profile) = per process only.
PIMLAB_TRACE_STORE_URL = os.environ.get("PIMLAB_TRACE_STORE_URL", PIMLAB_REDIS_URL)
# Which lab process this is (web, worker, beat, projection-worker): set by the Procfile and gunicorn;
# shown beside each span on the trace page.
PIMLAB_PROCESS_ROLE = os.environ.get("PIMLAB_PROCESS_ROLE", "")
PIMLAB_TRACE_STORE_PREFIX = os.environ.get("PIMLAB_TRACE_STORE_PREFIX", "pimlab:traces")
PIMLAB_TRACE_STORE_MAX_SPANS = int(os.environ.get("PIMLAB_TRACE_STORE_MAX_SPANS", "50000"))
PIMLAB_TRACE_STORE_RETENTION_SECONDS = int(os.environ.get("PIMLAB_TRACE_STORE_RETENTION_SECONDS", "86400"))
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_USER_ID_FIELD = "pk"
PROMETHEUS_EXPORT_MIGRATIONS = False
PROMETHEUS_METRIC_NAMESPACE = ""

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "structlog.stdlib.ProcessorFormatter",
            "processors": "ext://apps.telemetry.logging.FORMATTER_PROCESSORS",
            "foreign_pre_chain": "ext://apps.telemetry.logging.FOREIGN_PRE_CHAIN",
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
            # `make run` shows only warnings and errors on the console; the full log goes to files.
            "level": os.environ.get("PIMLAB_CONSOLE_LOG_LEVEL", "NOTSET"),
        },
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("PIMLAB_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_structlog": {"level": "INFO"},
    },
}
# With PIMLAB_LOG_DIR (set by `make run` to var/log), every process also writes the full JSON log
# to <dir>/<process role>.log, rotated by size; several processes of one role share the file safely.
PIMLAB_LOG_DIR = os.environ.get("PIMLAB_LOG_DIR", "")
PIMLAB_LOG_FILE_MAX_BYTES = int(os.environ.get("PIMLAB_LOG_FILE_MAX_BYTES", str(20 * 1024 * 1024)))
PIMLAB_LOG_FILE_BACKUPS = int(os.environ.get("PIMLAB_LOG_FILE_BACKUPS", "5"))
if PIMLAB_LOG_DIR:
    LOGGING["handlers"]["file"] = {
        "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
        "formatter": "json",
        "filename": str(Path(PIMLAB_LOG_DIR) / f"{os.environ.get('PIMLAB_PROCESS_ROLE', 'manage')}.log"),
        "maxBytes": PIMLAB_LOG_FILE_MAX_BYTES,
        "backupCount": PIMLAB_LOG_FILE_BACKUPS,
    }
    LOGGING["root"]["handlers"].append("file")

# --- Audit trail (clinician documentation scenario) -------------------------------------------
# NFR-09: an audit write (shard insert or audit-store append) slower than this is an alert. One
# threshold, 100 ms: the audit-write-latency SLO promises it, lab-alerts.yaml alerts on it.
# `audit_write_latency_seconds` above it increments `audit_write_latency_threshold_exceeded_total`;
# dashboards/clinician-documentation.json and docs/runbooks/11_audit-log-degradation.md use it.
PIMLAB_AUDIT_WRITE_LATENCY_THRESHOLD_SECONDS = float(
    os.environ.get("PIMLAB_AUDIT_WRITE_LATENCY_THRESHOLD_SECONDS", "0.1")
)
# NFR-20: buffered (unshipped) audit events older than this page the SRE on call.
PIMLAB_AUDIT_BUFFER_ALERT_AGE_SECONDS = float(os.environ.get("PIMLAB_AUDIT_BUFFER_ALERT_AGE_SECONDS", "300"))
# Key ring of the audit-store hash chain ("id:secret" pairs; the first signs, all verify), independent
# of SECRET_KEY and out of the audit database's reach. Empty: local/test generate one under var/.
PIMLAB_AUDIT_CHAIN_KEYS = os.environ.get("PIMLAB_AUDIT_CHAIN_KEYS", "")
PIMLAB_AUDIT_CHAIN_KEYS_REQUIRED = False
# The audit store's insert-only role (created by the audits migrations on PostgreSQL); the
# application's PIMLAB_AUDIT_URL should log in as it, while migrations run as the database owner.
PIMLAB_AUDIT_WRITER_ROLE = os.environ.get("PIMLAB_AUDIT_WRITER_ROLE", "pimlab_audit_writer")
# Backends other than PostgreSQL and SQLite cannot be given the append-only guarantees here; their
# migration is refused unless this is set (README, "Audit store").
PIMLAB_AUDIT_ALLOW_UNENFORCED = os.environ.get("PIMLAB_AUDIT_ALLOW_UNENFORCED", "0") == "1"
# How often beat verifies every chain (a broken link raises a critical alert event).
PIMLAB_AUDIT_VERIFY_INTERVAL_SECONDS = float(os.environ.get("PIMLAB_AUDIT_VERIFY_INTERVAL_SECONDS", "900"))
PIMLAB_AUDIT_SHIP_BATCH_SIZE = int(os.environ.get("PIMLAB_AUDIT_SHIP_BATCH_SIZE", "500"))
PIMLAB_AUDIT_SHIP_INTERVAL_SECONDS = float(os.environ.get("PIMLAB_AUDIT_SHIP_INTERVAL_SECONDS", "5"))
# --- end audit trail ---------------------------------------------------------------------------

# --- Claims and financial projection (billing scenario) ---------------------------------------------
# Per-billing-admin submission rate limit (guardrail), counted in Redis (PIMLAB_REDIS_URL) per window.
PIMLAB_CLAIMS_RATE_LIMIT = int(os.environ.get("PIMLAB_CLAIMS_RATE_LIMIT", "120"))
PIMLAB_CLAIMS_RATE_WINDOW_SECONDS = int(os.environ.get("PIMLAB_CLAIMS_RATE_WINDOW_SECONDS", "60"))
# Projection backlog (pending + undelivered events) above which the backlog alert fires (FR-14.5).
PIMLAB_PROJECTION_BACKLOG_ALERT_EVENTS = int(os.environ.get("PIMLAB_PROJECTION_BACKLOG_ALERT_EVENTS", "1000"))
# claim_projection_staleness objective shown beside the financial KPIs.
PIMLAB_CLAIM_PROJECTION_STALENESS_SLO_SECONDS = float(
    os.environ.get("PIMLAB_CLAIM_PROJECTION_STALENESS_SLO_SECONDS", "60")
)
# Link returned with each claim to the trace of its submission (e.g. a Grafana Tempo URL with {trace_id}).
PIMLAB_TRACE_URL_TEMPLATE = os.environ.get("PIMLAB_TRACE_URL_TEMPLATE", "/traces/{trace_id}")

# --- Chaos drills and the HA lab (apps.chaos) ----------------------------------------------
PIMLAB_HA_DIR = Path(os.environ.get("PIMLAB_HA_DIR") or VAR_DIR / "ha-lab")
PIMLAB_HA_BASE_PORT = int(os.environ.get("PIMLAB_HA_BASE_PORT", "15400"))  # below 32768 (ephemeral range)
PIMLAB_PATRONI_VENV = os.environ.get("PIMLAB_PATRONI_VENV", "/opt/pimlab-patroni")
# A node agent per HA node (apps/chaos/ha_node_agent.py) runs its Patroni as a child, reaps the
# node's processes at once (as a container's init does), and releases the leader lock as soon as
# the node's Patroni agent and postmaster are both gone (a pod kill): failover in about a second
# instead of the 20 s lease. 0: no agent (Patroni started detached, failover waits for the lease).
# Trade-offs: docs/runbooks/30_sql-failover.md ("Failover timings").
PIMLAB_HA_NODE_AGENT = os.environ.get("PIMLAB_HA_NODE_AGENT", "1") == "1"
PIMLAB_PG_BIN_DIR = os.environ.get("PIMLAB_PG_BIN_DIR", "")  # default: newest /usr/lib/postgresql/*/bin
PIMLAB_CHAOS_EXPERIMENTS_DIR = Path(
    os.environ.get("PIMLAB_CHAOS_EXPERIMENTS_DIR") or BASE_DIR / "chaos" / "experiments"
)
PIMLAB_CHAOS_POLICY = {
    "max_patient_share": float(os.environ.get("PIMLAB_CHAOS_MAX_PATIENT_SHARE", "0.5")),
    "max_traffic_share": float(os.environ.get("PIMLAB_CHAOS_MAX_TRAFFIC_SHARE", "0.5")),
    # Delayed, not failed: the share of patients whose asynchronous work a component outage holds up.
    "max_delayed_share": float(os.environ.get("PIMLAB_CHAOS_MAX_DELAYED_SHARE", "1.0")),
}
PIMLAB_CHAOS_ADR_URL_PATTERN = os.environ.get(
    "PIMLAB_CHAOS_ADR_URL_PATTERN", r"^https://[\w.-]+(/[\w.~%-]+)*/ADR-\d{3}[\w.~%-]*$"
)
# The lab's own processes: pid files of supervised components (projection worker, event bus
# broker) and fault flags live here. Drills resolve components to these files, never to paths
# from a manifest.
PIMLAB_RUN_DIR = os.environ.get("PIMLAB_RUN_DIR", str(VAR_DIR / "run"))
# Each chaos run's own folder (run-<id>/): what its activities leave beside it (the persona load's report).
PIMLAB_CHAOS_RUNS_DIR = os.environ.get("PIMLAB_CHAOS_RUNS_DIR", str(VAR_DIR / "chaos-runs"))
# How the lab starts a supervised component again (the rollback of a kill); "{python}" is this
# interpreter and the command runs in the checkout.
PIMLAB_CHAOS_COMPONENT_COMMANDS = {
    "projection_worker": ["{python}", "manage.py", "projections_worker", "--consumer", "projections-supervised"],
}
# What /proc/<pid>/cmdline must contain before a drill signals a component's pid: a pid file that
# names another process (the database, say) is refused.
PIMLAB_CHAOS_PROCESS_MARKERS = {"projection_worker": "projections_worker", "eventbus": "redis-server"}
# The HA pair serves this shard index (shard_<n>) for the failover workload.
PIMLAB_HA_SHARD_INDEX = int(os.environ.get("PIMLAB_HA_SHARD_INDEX", "1"))
# A running drill heartbeats this often; the reaper (beat) treats a run silent for the timeout as
# lost: it runs its rollbacks and ends it `aborted (worker lost)`.
PIMLAB_CHAOS_HEARTBEAT_SECONDS = float(os.environ.get("PIMLAB_CHAOS_HEARTBEAT_SECONDS", "5"))
PIMLAB_CHAOS_HEARTBEAT_TIMEOUT_SECONDS = float(os.environ.get("PIMLAB_CHAOS_HEARTBEAT_TIMEOUT_SECONDS", "30"))
PIMLAB_CHAOS_REAPER_INTERVAL_SECONDS = float(os.environ.get("PIMLAB_CHAOS_REAPER_INTERVAL_SECONDS", "10"))
# A launched run no chaos worker took within this long is ended `aborted (never started)` (it injected
# nothing); longer than the chaos task's hard time limit, so a run queued behind another drill is safe.
PIMLAB_CHAOS_PICKUP_TIMEOUT_SECONDS = float(os.environ.get("PIMLAB_CHAOS_PICKUP_TIMEOUT_SECONDS", "4800"))
# Each rollback is interrupted after this long (a rollback never pins a worker).
PIMLAB_CHAOS_ROLLBACK_TIMEOUT_SECONDS = float(os.environ.get("PIMLAB_CHAOS_ROLLBACK_TIMEOUT_SECONDS", "300"))
# Drills run on their own queue and worker (Procfile `chaos`), with Celery time limits: the longest
# manifest (duration_seconds ≤ 3600) plus its rollbacks.
CELERY_TASK_ROUTES = {"chaos.run_execute": {"queue": "chaos"}}
CELERY_TASK_ANNOTATIONS = {"chaos.run_execute": {"soft_time_limit": 4200, "time_limit": 4500}}

# --- Encounter booking retries and outbox relay (apps.encounters, apps.outbox) -----------------
# Back-off 50 ms doubling, capped at PIMLAB_BOOKING_RETRY_MAX_WAIT_SECONDS: with 8 attempts a booking
# keeps trying for ~1.5 s at ≤ 0.3 s intervals, so one caught by a promotion (a switchover stalled
# writes 1.6–1.8 s in the lab, a pod kill with the node agent under 1 s) is answered 2xx a few
# hundred ms after it instead of 503. The cost: a sync worker is held that long during an outage.
# Trade-offs: docs/runbooks/30_sql-failover.md ("Failover timings").
PIMLAB_BOOKING_RETRY_ATTEMPTS = int(os.environ.get("PIMLAB_BOOKING_RETRY_ATTEMPTS", "8"))
PIMLAB_BOOKING_RETRY_BUDGET_SECONDS = float(os.environ.get("PIMLAB_BOOKING_RETRY_BUDGET_SECONDS", "3"))
PIMLAB_BOOKING_RETRY_MAX_WAIT_SECONDS = float(os.environ.get("PIMLAB_BOOKING_RETRY_MAX_WAIT_SECONDS", "0.25"))
PIMLAB_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("PIMLAB_OUTBOX_MAX_ATTEMPTS", "8"))
PIMLAB_OUTBOX_BACKOFF_BASE_SECONDS = float(os.environ.get("PIMLAB_OUTBOX_BACKOFF_BASE_SECONDS", "1"))
PIMLAB_OUTBOX_BACKOFF_MAX_SECONDS = float(os.environ.get("PIMLAB_OUTBOX_BACKOFF_MAX_SECONDS", "300"))
PIMLAB_OUTBOX_DRAIN_SECONDS = float(os.environ.get("PIMLAB_OUTBOX_DRAIN_SECONDS", "20"))
# The rebuild promise: `projections_rebuild` replays the shards' outbox rows (not the bus, whose streams
# are trimmed and lost with a Redis restart), so it restores every event of at least the last
# PIMLAB_OUTBOX_REPLAY_DAYS days. The daily purge of published rows keeps them PIMLAB_OUTBOX_RETENTION_DAYS;
# a retention shorter than the promise is a configuration error (system check outbox.E001).
PIMLAB_OUTBOX_REPLAY_DAYS = float(os.environ.get("PIMLAB_OUTBOX_REPLAY_DAYS", "90"))
PIMLAB_OUTBOX_RETENTION_DAYS = float(os.environ.get("PIMLAB_OUTBOX_RETENTION_DAYS", "90"))

# Claims retention floor: no retention policy may keep an archived claim fewer days than this after
# submission (six years, the HIPAA documentation period). "2190" applies to every class;
# "2190,government=3650" raises the floor of one class.
PIMLAB_RETENTION_FLOOR_DAYS = os.environ.get("PIMLAB_RETENTION_FLOOR_DAYS", "2190")

# SLOs (apps.slo): specs folder, SLI source, alert webhook.
PIMLAB_SLO_SPECS_DIR = Path(os.environ.get("PIMLAB_SLO_SPECS_DIR", BASE_DIR / "slo" / "specs"))
# With a Prometheus URL the engine reads SLIs through its HTTP API; otherwise the built-in sampler
# snapshots this process's metrics, or the /metrics URLs listed here (one per web process).
PIMLAB_PROMETHEUS_URL = os.environ.get("PIMLAB_PROMETHEUS_URL", "")
# The lab's own Prometheus and Alertmanager (`make observe`, apps/slo/stack.py) and the ports they scrape.
PIMLAB_OBSERVE_DIR = os.environ.get("PIMLAB_OBSERVE_DIR", str(VAR_DIR / "observe"))
PIMLAB_PROMETHEUS_PORT = int(os.environ.get("PIMLAB_PROMETHEUS_PORT", "9090"))
PIMLAB_ALERTMANAGER_PORT = int(os.environ.get("PIMLAB_ALERTMANAGER_PORT", "9093"))
PIMLAB_WEB_PORT = int(os.environ.get("PIMLAB_WEB_PORT", "8000"))
# A Celery worker serves its /metrics here when set (0 = off; `make run OBSERVE=1` sets 9808).
PIMLAB_WORKER_METRICS_PORT = int(os.environ.get("PIMLAB_WORKER_METRICS_PORT", "0"))
# The projection worker's metrics port Prometheus scrapes (0 = not scraped; `make run OBSERVE=1` sets 9809).
PIMLAB_PROJECTION_METRICS_PORT = int(os.environ.get("PIMLAB_PROJECTION_METRICS_PORT", "0"))
PIMLAB_SLO_SCRAPE_URLS = [u for u in os.environ.get("PIMLAB_SLO_SCRAPE_URLS", "").split(",") if u]
PIMLAB_SLO_EVALUATION_SECONDS = float(os.environ.get("PIMLAB_SLO_EVALUATION_SECONDS", "30"))
PIMLAB_ALERT_WEBHOOK_URL = os.environ.get("PIMLAB_ALERT_WEBHOOK_URL", "")
PIMLAB_ALERT_WEBHOOK_RECEIVER = os.environ.get("PIMLAB_ALERT_WEBHOOK_RECEIVER", "pimlab-webhook")
# Alertmanager -> the lab: POST /api/alerts/alertmanager with this file's content as bearer token
# (Alertmanager reads the same file: `credentials_file`). `make observe` creates it when missing.
PIMLAB_ALERT_RECEIVER_TOKEN_FILE = os.environ.get(
    "PIMLAB_ALERT_RECEIVER_TOKEN_FILE", str(VAR_DIR / "observe" / "alert-receiver-token")
)
PIMLAB_EXTERNAL_URL = os.environ.get("PIMLAB_EXTERNAL_URL") or "http://localhost:8000"

# --- Synthetic probes (apps.probes) -------------------------------------------------------------
PIMLAB_PROBE_BASE_URL = os.environ.get("PIMLAB_PROBE_BASE_URL", "http://127.0.0.1:8000")
PIMLAB_PROBE_STEP_TIMEOUT_SECONDS = float(os.environ.get("PIMLAB_PROBE_STEP_TIMEOUT_SECONDS", "30"))
# validate_sequences: the repository's catalog and the seed it must equal (relative to BASE_DIR);
# the seed sits in the shared folder beside a checkout (and in CI).
PIMLAB_SEQUENCE_CATALOG = os.environ.get("PIMLAB_SEQUENCE_CATALOG", "docs/requirements/runtime-sequence-catalog.md")
PIMLAB_SEQUENCE_SEED = os.environ.get("PIMLAB_SEQUENCE_SEED", "../shared/seed/runtime-sequence-catalog.md")
# --- end synthetic probes ----------------------------------------------------------------------

# --- Request hot path (booking performance) ----------------------------------------------------
# Seconds a worker keeps a resolved API token (user + persona) before looking it up again; changes
# through the ORM invalidate at once in the changing process, other workers within this TTL.
# 0 turns the cache off. See apps/core/identity_cache.py.
PIMLAB_TOKEN_CACHE_SECONDS = float(os.environ.get("PIMLAB_TOKEN_CACHE_SECONDS", "10"))
# No access line of django-structlog carries the client IP (resolving it costs CPU per request
# and the lab's log queries never use it).
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = os.environ.get("PIMLAB_LOG_CLIENT_IP", "0") == "1"
# --- end request hot path ----------------------------------------------------------------------

# --- Access control and PHI protection (docs/access-policy.md) ---------------------------------
# Seeded MRNs are this prefix + 7 digits (LAB0000042); free-text redaction masks any MRN with it.
PIMLAB_MRN_PREFIX = os.environ.get("PIMLAB_MRN_PREFIX", "LAB")
# API tokens are stored hashed (django-rest-knox) and expire after this many hours.
PIMLAB_API_TOKEN_TTL_HOURS = float(os.environ.get("PIMLAB_API_TOKEN_TTL_HOURS", "12"))
REST_KNOX = {"AUTH_HEADER_PREFIX": "Token", "TOKEN_TTL": None}

# Login lockout (django-axes), for the portal and the admin login alike: after this many failures
# for one username from one address the login answers 429 until the cool-off has passed.
AXES_FAILURE_LIMIT = int(os.environ.get("PIMLAB_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("PIMLAB_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Session idle timeout: a portal or admin session ends after this many seconds without a request.
SESSION_COOKIE_AGE = int(os.environ.get("PIMLAB_SESSION_IDLE_SECONDS", "900"))
# The expiry slides at most once a minute (apps/core/session_idle.py), not with a write per request.
PIMLAB_SESSION_TOUCH_SECONDS = int(os.environ.get("PIMLAB_SESSION_TOUCH_SECONDS", "60"))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): only the lab's own files run and style, no inline script or
# style anywhere (templates use classes; Chart.js sizes its canvas through the CSSOM, which a policy
# does not restrict; htmx's indicator style is off, templates/portal/base.html). The API reference
# pages alone allow inline styles (pimlab_portal/urls.py): Swagger UI and ReDoc (styled-components)
# write style elements, and they show no patient data.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],  # ReDoc parses the schema in a worker it builds from a blob
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
