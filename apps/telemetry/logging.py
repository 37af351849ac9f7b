"""structlog configuration: JSON lines on stdout carrying the correlation fields."""

from __future__ import annotations

import logging

import structlog
from opentelemetry import trace

from .context import CORRELATION_FIELDS
from .phi_scrub import scrub_log_event


def add_trace_context(logger, method_name, event_dict):
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        if not event_dict.get("trace_id"):
            event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def add_correlation_fields(logger, method_name, event_dict):
    """Every line has the same correlation keys (null when unknown), so log queries never miss one."""
    for field in CORRELATION_FIELDS:
        event_dict.setdefault(field, None)
    return event_dict


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    add_trace_context,
    add_correlation_fields,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
    # Last: it also sees the traceback text format_exc_info just rendered.
    scrub_log_event,
]

FOREIGN_PRE_CHAIN = list(SHARED_PROCESSORS)


# Used by the "json" formatter in settings.LOGGING.
FORMATTER_PROCESSORS = [
    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    structlog.processors.JSONRenderer(),
]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.captureWarnings(True)
