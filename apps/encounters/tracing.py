"""Spans named after the participants of the seed's booking sequence, carrying the seed's labels."""

from __future__ import annotations

import os
from contextlib import contextmanager

from apps.telemetry import context
from apps.telemetry.tracing import tracer

SEED_LABELS = ("request_id", "trace_id", "user_id", "persona", "actor_role", "shard_id")


@contextmanager
def seed_span(name: str, **attributes):
    correlation = context.current()
    labels = {key: str(correlation[key]) for key in SEED_LABELS if correlation.get(key) is not None}
    labels.update(attributes)
    with tracer().start_as_current_span(name, attributes=labels) as span:
        yield span
        # Labels learnt inside the span (the persona after token authentication, the shard
        # after resolution) are brought up to date before it ends.
        later = context.current()
        for key in SEED_LABELS:
            if later.get(key) is not None and labels.get(key) != str(later[key]):
                span.set_attribute(key, str(later[key]))


@contextmanager
def profile_tags(**tags):
    """Tag Pyroscope samples taken inside (seed: profiles around orchestrator hot paths), when profiling is on."""
    if not os.environ.get("PYROSCOPE_SERVER_ADDRESS"):
        yield
        return
    import pyroscope

    with pyroscope.tag_wrapper({key: str(value) for key, value in tags.items()}):
        yield
