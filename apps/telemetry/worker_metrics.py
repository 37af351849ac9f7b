"""A Celery worker's own /metrics port, so Prometheus scrapes workers as their own job.

The worker's prefork children write prometheus_client multiprocess files into the worker's folder
(``PROMETHEUS_MULTIPROC_DIR``; under ``make run OBSERVE=1`` not the web's, or both jobs would report
the same samples); the main process serves their sum. Without a multiprocess folder the port serves
the process' own registry."""

from __future__ import annotations

import os
from pathlib import Path

from .multiprocess import metrics_dir_prepare


def worker_metrics_serve(*, port: int, address: str = "127.0.0.1") -> None:
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        start_http_server(port, addr=address, registry=REGISTRY)
        return
    from prometheus_client import multiprocess

    metrics_dir_prepare(Path(folder))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=address, registry=registry)
