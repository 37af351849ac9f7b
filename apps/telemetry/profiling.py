"""Continuous profiling with Pyroscope, on when PYROSCOPE_SERVER_ADDRESS is set."""

from __future__ import annotations

import os
from collections.abc import Mapping


def configure_profiling_from_env(*, service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Start the Pyroscope agent when a server address is configured; returns whether it started."""
    # Process variables, not settings: the agent runs per process, and the launcher names the
    # process's role (Procfile for worker and beat, gunicorn's post_fork for web).
    address = environ.get("PYROSCOPE_SERVER_ADDRESS")
    if not address:
        return False
    import pyroscope

    pyroscope.configure(
        application_name=service_name,
        server_address=address,
        sample_rate=int(environ.get("PYROSCOPE_SAMPLE_RATE", "100")),
        tags={"process": environ.get("PIMLAB_PROCESS_ROLE", "web")},
    )
    return True
