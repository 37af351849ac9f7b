"""Spans named after the seed's participants, labelled with the request's correlation fields, so a
sequence diagram can be read off a real trace and compared with the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from . import context
from .participants import Participant
from .tracing import tracer

_tracer: trace.Tracer | None = None


def _participant_tracer() -> trace.Tracer:
    # get_tracer builds a new Tracer on each call; one per process is enough.
    global _tracer
    if _tracer is None:
        _tracer = tracer("pimlab.sequence")
    return _tracer


def correlation_attributes() -> dict[str, str]:
    return {name: str(value) for name, value in context.current().items() if value is not None}


def _attribute(value):
    return value if isinstance(value, bool | int | float) else str(value)


@contextmanager
def participant_span(name: Participant, *, refresh_labels: bool = False, **attributes) -> Iterator[trace.Span]:
    """A span named after a seed participant (a ``Participant`` member, never a free string), carrying
    the correlation labels.

    ``refresh_labels`` re-reads the labels when the span ends, for spans inside which they are
    learnt (the persona after token authentication, the shard after resolution)."""
    labels: dict = correlation_attributes()
    labels.update({key: _attribute(value) for key, value in attributes.items() if value is not None})
    with _participant_tracer().start_as_current_span(Participant(name).value, attributes=labels) as span:
        yield span
        if refresh_labels:
            for key, value in correlation_attributes().items():
                if labels.get(key) != value:
                    span.set_attribute(key, value)
