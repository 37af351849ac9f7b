"""Spans named after the participants of the seed's booking sequence, carrying the seed's labels."""

from __future__ import annotations

import os
from contextlib import contextmanager

from apps.telemetry import context
from apps.telemetry.tracing import tracer

SEED_LABELS = ("request_id", "trace_id", "user_id", "persona", "actor_role", "shard_id")

_tracer = None


def _seed_tracer():
    # get_tracer builds a new Tracer each call; one per process is enough (a proxy until set up).
    global _tracer
    if _tracer is None:
        _tracer = tracer("pimlab.booking")
    return _tracer


def _labels() -> dict[str, str]:
    correlation = context.current()
    return {key: str(correlation[key]) for key in SEED_LABELS if correlation.get(key) is not None}


@contextmanager
def seed_span(name: str, *, refresh_labels: bool = False, **attributes):
    """A span named after a seed participant, labelled with the correlation fields.

    ``refresh_labels`` re-reads them when the span ends, for spans inside which they are learnt
    (the persona after token authentication, the shard after resolution)."""
    labels = _labels()
    labels.update(attributes)
    with _seed_tracer().start_as_current_span(name, attributes=labels) as span:
        yield span
        if refresh_labels:
            for key, value in _labels().items():
                if labels.get(key) != value:
                    span.set_attribute(key, value)


@contextmanager
def profile_tags(**tags):
    """Tag Pyroscope samples taken inside (seed: profiles around orchestrator hot paths), when profiling is on."""
    if not os.environ.get("PYROSCOPE_SERVER_ADDRESS"):
        yield
        return
    import pyroscope

    with pyroscope.tag_wrapper({key: str(value) for key, value in tags.items()}):
        yield
