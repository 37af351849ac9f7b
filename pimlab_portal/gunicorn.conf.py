"""gunicorn settings for the lab's web process (Procfile ``web``).

Two sync workers with persistent database connections (CONN_MAX_AGE in settings), and
prometheus_client's multiprocess mode so /metrics sums the samples of every worker (and of the
Celery worker when it shares PROMETHEUS_MULTIPROC_DIR, as under ``make run``)."""

# gunicorn reads this file in its master before Django loads, so it reads the environment itself
# (the same variables and defaults as the settings: PIMLAB_VAR_DIR, PIMLAB_WEB_PORT).
import os
from pathlib import Path

from apps.telemetry.multiprocess import metrics_dir_default, metrics_dir_prepare

_base_dir = Path(__file__).resolve().parent.parent
_var_dir = Path(os.environ.get("PIMLAB_VAR_DIR", _base_dir / "var"))

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PIMLAB_WEB_PORT', '8000')}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# gunicorn's own access log would be a second, unstructured line per request: django-structlog logs it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
wsgi_app = "pimlab_portal.wsgi:application"
# One control socket per lab directory, so several labs on one machine do not share it.
control_socket = str(_var_dir / "gunicorn.ctl")

# prometheus_client reads this variable when it is first imported, in each worker: set it here,
# in the master, before any worker loads Django.
_metrics_dir = metrics_dir_default(_var_dir)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def on_starting(server):
    # Samples of a previous run's processes must not be summed into this run's metrics.
    removed = metrics_dir_prepare(_metrics_dir)
    server.log.info("metrics folder %s ready (%d stale files removed)", _metrics_dir, len(removed))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # The worker has loaded Django: keep its long-lived objects out of full garbage collections
    # (shorter pauses in the latency tail, less CPU per request). See pimlab_portal/worker_gc.py.
    from pimlab_portal.worker_gc import gc_freeze_now_and_after_first_request

    gc_freeze_now_and_after_first_request()


def post_fork(server, worker):
    os.environ.setdefault("PIMLAB_PROCESS_ROLE", "web")
