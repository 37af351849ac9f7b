"""Real lab processes for integration tests: gunicorn, Celery workers, the projection worker, on
this checkout's test databases and Redis db, each in its own process group and killed by its pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(alias: str) -> str:
    config = connections[alias].settings_dict
    return f"postgres://{config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


def lab_environment(**extra: str) -> dict[str, str]:
    """The test settings pointed at the test databases (which pytest-django created)."""
    env = dict(os.environ)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    env.update(
        DJANGO_SETTINGS_MODULE="pimlab_portal.settings.test",
        PYTHONUNBUFFERED="1",
        PIMLAB_CATALOG_URL=database_url("default"),
        PIMLAB_SHARD_URLS=",".join(database_url(alias) for alias in settings.SHARD_ALIASES),
        PIMLAB_AUDIT_URL=database_url("audit"),
        PIMLAB_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


@dataclass
class LabProcess:
    name: str
    process: subprocess.Popen
    log_path: Path
    url: str = ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _spawn(name: str, command: list[str], *, env: dict, log_dir: Path, url: str = "") -> LabProcess:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return LabProcess(name=name, process=process, log_path=log_path, url=url)


def _ready_or_stopped(lab_process: LabProcess, ready: Callable[[], object], *, what: str) -> LabProcess:
    try:
        wait_until(ready, timeout=90, what=what, processes=[lab_process])
    except BaseException:
        lab_process.stop()
        raise
    return lab_process


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, processes=()) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except requests.RequestException:
            result = None
        if result:
            return result
        for lab_process in processes:
            if lab_process.process.poll() is not None:
                raise AssertionError(f"{lab_process.name} exited while waiting for {what}:\n{lab_process.log_tail()}")
        time.sleep(0.25)
    logs = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in processes)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


def gunicorn(name: str, *, log_dir: Path, env: dict, workers: int = 1) -> LabProcess:
    port = free_port()
    if "PROMETHEUS_MULTIPROC_DIR" not in env:
        # As in the lab (gunicorn.conf.py): /metrics sums every worker's samples, whichever answers.
        metrics_dir = log_dir / f"{name}-metrics"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    command = [
        sys.executable, "-m", "gunicorn", "pimlab_portal.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--timeout", "60", "--env", "PIMLAB_PROCESS_ROLE=web",
    ]  # fmt: skip
    lab_process = _spawn(name, command, env=env, log_dir=log_dir, url=f"http://127.0.0.1:{port}")
    return _ready_or_stopped(
        lab_process, lambda: requests.get(f"{lab_process.url}/healthz", timeout=2).ok, what=f"{name} to answer /healthz"
    )


def celery_worker(
    name: str, *, log_dir: Path, env: dict, concurrency: int = 2, queues: tuple[str, ...] = ()
) -> LabProcess:
    command = [
        sys.executable, "-m", "celery", "-A", "pimlab_portal", "worker", "--pool", "prefork",
        "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    if queues:
        command += ["--queues", ",".join(queues)]
    lab_process = _spawn(
        name, command, env={**env, "PIMLAB_PROCESS_ROLE": "worker", "PIMLAB_LOG_LEVEL": "INFO"}, log_dir=log_dir
    )
    return _ready_or_stopped(
        lab_process, lambda: " ready." in lab_process.log_path.read_text(errors="replace"), what=f"{name} to be ready"
    )


def projection_worker(name: str, *, log_dir: Path, env: dict, metrics_port: int | None = None) -> LabProcess:
    command = [sys.executable, "manage.py", "projections_worker", "--consumer", name]
    if metrics_port:
        command += ["--metrics-port", str(metrics_port)]
    return _spawn(name, command, env={**env, "PIMLAB_PROCESS_ROLE": "projection-worker"}, log_dir=log_dir)


@contextmanager
def lab_processes(*starters: Callable[[], LabProcess]) -> Iterator[list[LabProcess]]:
    """Start each in turn; stop all (newest first) however the block ends."""
    started: list[LabProcess] = []
    try:
        for start in starters:
            started.append(start())
        yield started
    finally:
        for lab_process in reversed(started):
            lab_process.stop()
