"""Correlation fields for Celery tasks, bound after django-structlog restored the publisher's values."""

from __future__ import annotations

from django_structlog.celery import signals as structlog_celery_signals

from . import context


def bind_task_metadata(sender=None, task=None, logger=None, **kwargs) -> None:
    parent = getattr(task.request, "__django_structlog__", None) or {}
    context.bind_task_context(task_id=task.request.id, parent=parent)


def connect() -> None:
    structlog_celery_signals.bind_extra_task_metadata.connect(
        bind_task_metadata, dispatch_uid="pimlab-telemetry-task-context"
    )
