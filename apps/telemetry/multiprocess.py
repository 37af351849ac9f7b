"""prometheus_client multiprocess files shared by gunicorn workers and Celery workers.

Every process of the lab writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and /metrics sums
them. This module imports nothing from Django: gunicorn's config file uses it before Django loads."""

from __future__ import annotations

import os
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def metrics_dir_prepare(path: Path) -> list[Path]:
    """Create the folder and delete the files of processes that are gone (a previous run).

    Files of live processes stay: the Celery worker may have started before gunicorn."""
    path.mkdir(parents=True, exist_ok=True)
    removed = []
    for file in path.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if not pid.isdigit() or not _alive(int(pid)):
            file.unlink(missing_ok=True)
            removed.append(file)
    return removed


def metrics_dir_default(var_dir: Path) -> Path:
    # prometheus_client reads this process variable itself, when it is first imported.
    return Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or var_dir / "prometheus-multiproc")
