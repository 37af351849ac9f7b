"""Real dependency processes of a test's own, so a test can freeze or kill them without touching
the shared services: a private Redis, and a port that accepts TCP connections but never answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.network import unused_port


@dataclass
class RedisProcess:
    pid: int
    url: str

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections (kernel backlog) but nothing answers."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


def _redis_start(port: int, directory: Path, extra: tuple[str, ...]) -> int:
    pidfile = directory / f"redis-{port}.pid"
    pidfile.unlink(missing_ok=True)
    subprocess.run(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--daemonize", "yes", "--pidfile", str(pidfile), "--dir", str(directory)),
            *extra,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server on port {port} did not start")
        time.sleep(0.05)
    return int(pidfile.read_text())


def _gone(pid: int, *, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server {pid} did not exit")


@contextmanager
def redis_server(directory: Path, *extra: str) -> Iterator[RedisProcess]:
    port = unused_port()
    process = RedisProcess(pid=_redis_start(port, directory, extra), url=f"redis://127.0.0.1:{port}/0")
    try:
        yield process
    finally:
        try:
            os.kill(process.pid, signal.SIGCONT)
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def redis_restart(process: RedisProcess, directory: Path, *extra: str) -> None:
    """Kill the server (SIGKILL, as a crash would) and start a new one on the same port: without
    persistence (the default here) it comes back empty, every stream and consumer group lost."""
    os.kill(process.pid, signal.SIGCONT)
    os.kill(process.pid, signal.SIGKILL)
    _gone(process.pid)
    port = int(process.url.rsplit(":", 1)[1].split("/")[0])
    process.pid = _redis_start(port, directory, extra)


@contextmanager
def blackhole_port() -> Iterator[int]:
    """A listening socket that never accepts: connections complete, then nothing is ever said."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]
