"""Spans named after the seed's participants, carrying the correlation labels of the request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from apps.telemetry import context
from apps.telemetry.tracing import tracer


@contextmanager
def participant_span(name: str, **attributes) -> Iterator[trace.Span]:
    with tracer("pimlab.claims").start_as_current_span(name) as span:
        _label(span, attributes)
        yield span


def _label(span: trace.Span, attributes: dict) -> None:
    for key, value in context.current().items():
        if value is not None:
            span.set_attribute(key, str(value))
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(key, value if isinstance(value, (bool, int, float)) else str(value))
