"""Celery task telemetry: correlation fields bound after django-structlog restored the
publisher's values, and run counts/durations per task."""

from __future__ import annotations

import time

from celery.signals import task_postrun, task_prerun
from django_structlog.celery import signals as structlog_celery_signals

from . import context
from .metrics import CELERY_TASK_DURATION_SECONDS, CELERY_TASK_RUNS_TOTAL


def bind_task_metadata(sender=None, task=None, logger=None, **kwargs) -> None:
    parent = getattr(task.request, "__django_structlog__", None) or {}
    context.bind_task_context(task_id=task.request.id, parent=parent)


def mark_task_start(task_id=None, task=None, **kwargs) -> None:
    task.request.pimlab_started_at = time.perf_counter()


def record_task_run(task_id=None, task=None, state=None, **kwargs) -> None:
    CELERY_TASK_RUNS_TOTAL.labels(task=task.name, state=state or "UNKNOWN").inc()
    started = getattr(task.request, "pimlab_started_at", None)
    if started is not None:
        CELERY_TASK_DURATION_SECONDS.labels(task=task.name).observe(time.perf_counter() - started)


def connect() -> None:
    structlog_celery_signals.bind_extra_task_metadata.connect(
        bind_task_metadata, dispatch_uid="pimlab-telemetry-task-context"
    )
    task_prerun.connect(mark_task_start, dispatch_uid="pimlab-telemetry-task-start")
    task_postrun.connect(record_task_run, dispatch_uid="pimlab-telemetry-task-run")
