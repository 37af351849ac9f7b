import importlib
import os
from pathlib import Path

from celery import Celery
from celery.signals import import_modules, setup_logging, worker_init, worker_process_init, worker_process_shutdown
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimlab_portal.settings.local")
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Shared with gunicorn (make run): the web process's /metrics then includes the worker's samples.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

app = Celery("pimlab_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Worker-side django-structlog receivers: bind the publisher's request_id/user/persona in each task.
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def keep_django_logging(**kwargs):
    """Connecting this signal stops Celery from replacing Django's JSON logging configuration."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_init.connect
def serve_worker_metrics(**kwargs):
    """In the worker's main process, before the pool forks: its /metrics port when one is set."""
    from django.conf import settings

    if settings.PIMLAB_WORKER_METRICS_PORT:
        from apps.telemetry.worker_metrics import worker_metrics_serve

        worker_metrics_serve(port=settings.PIMLAB_WORKER_METRICS_PORT)


@worker_process_init.connect
def instrument_worker_process(**kwargs):
    """Prefork children need their own instrumentation state (the OTel Celery guidance)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


@worker_process_shutdown.connect
def forget_live_gauges(pid=None, **kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def collect_beat_schedules(celery_app: Celery) -> None:
    """Each app declares its periodic tasks in ``<app>/schedules.py`` as ``BEAT_SCHEDULE``.

    Called when beat or a worker imports its modules (after Celery's Django fix-up has set
    Django up, before beat's scheduler reads the schedule): the modules may read settings."""
    from django.apps import apps as django_apps

    for config in django_apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        celery_app.conf.beat_schedule.update(getattr(module, "BEAT_SCHEDULE", {}))


@import_modules.connect
def register_beat_schedules(sender, **kwargs):
    collect_beat_schedules(app)
