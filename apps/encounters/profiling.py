"""Profiling tags around the booking orchestrator's hot path."""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def profile_tags(**tags):
    """Tag Pyroscope samples taken inside (seed: profiles around orchestrator hot paths), when profiling is on."""
    # A process variable, not a setting: the Pyroscope agent is per process and starts from the
    # same variable (apps/telemetry/profiling.py).
    if not os.environ.get("PYROSCOPE_SERVER_ADDRESS"):
        yield
        return
    import pyroscope

    with pyroscope.tag_wrapper({key: str(value) for key, value in tags.items()}):
        yield
