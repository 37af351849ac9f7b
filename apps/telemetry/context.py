"""Correlation context for the current request or task, shared by logs, spans and metrics.

Values are bound as structlog context variables, so every log line carries them; spans and
audit/outbox rows read them from here."""

from __future__ import annotations

import contextlib

import structlog
from opentelemetry import trace

CORRELATION_FIELDS = ("request_id", "trace_id", "user_id", "persona", "actor_role", "shard_id")


def bind(**values) -> None:
    """Bind correlation values for the rest of this request/task (None values are skipped)."""
    clean = {k: v for k, v in values.items() if v is not None}
    structlog.contextvars.bind_contextvars(**clean)
    if "shard_id" in clean:
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("shard_id", clean["shard_id"])


@contextlib.contextmanager
def bound(**values):
    """``bind`` for the length of a block; the values bound before it are restored after."""
    before = structlog.contextvars.get_contextvars()
    bind(**values)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)


def current() -> dict:
    values = structlog.contextvars.get_contextvars()
    result = {field: values.get(field) for field in CORRELATION_FIELDS}
    if not result["trace_id"]:
        result["trace_id"] = current_trace_id()
    return result


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def bind_task_context(*, task_id: str | None, parent: dict | None = None) -> None:
    """Bind a Celery task's correlation values.

    The publisher's values (request_id, user_id, persona, actor_role, shard_id) arrive in the task
    headers; the trace id is the task span's own, which is the request's when the W3C context
    propagated. A task started by beat has no publisher request: it gets the task id as its
    request id and the ``system`` role."""
    parent = parent or {}
    role = parent.get("actor_role") or "system"
    bind(
        request_id=parent.get("request_id") or task_id,
        trace_id=current_trace_id() or parent.get("trace_id"),
        user_id=parent.get("user_id"),
        persona=parent.get("persona") or role,
        actor_role=role,
    )
