"""Continuous profiling with Pyroscope, on when PYROSCOPE_SERVER_ADDRESS is set."""

from __future__ import annotations

import os


def configure_profiling(*, service_name: str) -> None:
    import pyroscope

    pyroscope.configure(
        application_name=service_name,
        server_address=os.environ["PYROSCOPE_SERVER_ADDRESS"],
        sample_rate=int(os.environ.get("PYROSCOPE_SAMPLE_RATE", "100")),
        tags={"process": os.environ.get("PIMLAB_PROCESS_ROLE", "web")},
    )
