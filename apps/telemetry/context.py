"""Correlation context for the current request or task, shared by logs, spans and metrics.

Values are bound as structlog context variables, so every log line carries them; spans and
audit/outbox rows read them from here."""

from __future__ import annotations

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


def current() -> dict:
    values = structlog.contextvars.get_contextvars()
    result = {field: values.get(field) for field in CORRELATION_FIELDS}
    if not result["trace_id"]:
        result["trace_id"] = current_trace_id()
    return result


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
