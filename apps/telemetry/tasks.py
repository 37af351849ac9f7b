"""A diagnostic task: logs the correlation context it received (trace propagation self-check)."""

from __future__ import annotations

import structlog
from celery import shared_task
from opentelemetry import trace

from . import context

logger = structlog.get_logger(__name__)


@shared_task(name="telemetry.trace_probe")
def trace_probe(label: str = "") -> dict:
    received = context.current()
    # The task span's parent is the publisher's span when the W3C context crossed the broker.
    parent = getattr(trace.get_current_span(), "parent", None)
    received["parent_span_id"] = format(parent.span_id, "016x") if parent is not None else None
    logger.info("trace_probe_received", label=label, parent_span_id=received["parent_span_id"])
    return received
