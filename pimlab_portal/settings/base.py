"""Settings shared by every profile. Environment variables are listed in README.md."""

from __future__ import annotations

import os
from pathlib import Path

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
    "rest_framework.authtoken",
    "drf_spectacular",
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
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "apps.telemetry.middleware.RequestTelemetryMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

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
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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
}

# Celery: a broker that needs no server unless PIMLAB_BROKER_URL is set.
CELERY_BROKER_URL = os.environ.get("PIMLAB_BROKER_URL", "filesystem://")
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {}
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic tasks are declared in code by each app (CELERY_BEAT_SCHEDULE) and synced by beat.
CELERY_BEAT_SCHEDULE: dict = {}

# Event bus: Redis Streams when set, otherwise a table in the catalog (embedded profile).
PIMLAB_EVENTBUS_URL = os.environ.get("PIMLAB_EVENTBUS_URL", "")
PIMLAB_REDIS_URL = os.environ.get("PIMLAB_REDIS_URL", "")

# Telemetry
PIMLAB_SPAN_STORE_SIZE = int(os.environ.get("PIMLAB_SPAN_STORE_SIZE", "5000"))
PIMLAB_SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "pimlab-portal")
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
        "stdout": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("PIMLAB_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_structlog": {"level": "INFO"},
    },
}

# SLOs (apps.slo): specs folder, SLI source, alert webhook.
PIMLAB_SLO_SPECS_DIR = Path(os.environ.get("PIMLAB_SLO_SPECS_DIR", BASE_DIR / "slo" / "specs"))
# With a Prometheus URL the engine reads SLIs through its HTTP API; otherwise the built-in sampler
# snapshots this process's metrics, or the /metrics URLs listed here (one per web process).
PIMLAB_PROMETHEUS_URL = os.environ.get("PIMLAB_PROMETHEUS_URL", "")
PIMLAB_SLO_SCRAPE_URLS = [u for u in os.environ.get("PIMLAB_SLO_SCRAPE_URLS", "").split(",") if u]
PIMLAB_SLO_EVALUATION_SECONDS = float(os.environ.get("PIMLAB_SLO_EVALUATION_SECONDS", "30"))
PIMLAB_ALERT_WEBHOOK_URL = os.environ.get("PIMLAB_ALERT_WEBHOOK_URL", "")
PIMLAB_ALERT_WEBHOOK_RECEIVER = os.environ.get("PIMLAB_ALERT_WEBHOOK_RECEIVER", "pimlab-webhook")
PIMLAB_EXTERNAL_URL = os.environ.get("PIMLAB_EXTERNAL_URL", "http://localhost:8000")
