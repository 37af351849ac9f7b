"""A diagnostic task: logs the correlation context it received (trace propagation self-check)."""

from __future__ import annotations

import structlog
from celery import shared_task

from . import context

logger = structlog.get_logger(__name__)


@shared_task(name="telemetry.trace_probe")
def trace_probe(label: str = "") -> dict:
    received = context.current()
    logger.info("trace_probe_received", label=label)
    return received
