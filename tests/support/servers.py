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


@contextmanager
def redis_server(directory: Path, *extra: str) -> Iterator[RedisProcess]:
    port = unused_port()
    pidfile = directory / f"redis-{port}.pid"
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
    process = RedisProcess(pid=int(pidfile.read_text()), url=f"redis://127.0.0.1:{port}/0")
    try:
        yield process
    finally:
        try:
            os.kill(process.pid, signal.SIGCONT)
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def blackhole_port() -> Iterator[int]:
    """A listening socket that never accepts: connections complete, then nothing is ever said."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]
