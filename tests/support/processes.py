"""Child processes a test starts (workers, servers)."""

from __future__ import annotations

import subprocess


def process_stop(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL when the process has not exited within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
