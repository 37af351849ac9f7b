"""Lab components a manifest may name, resolved by the lab to its own processes, pid files and URLs.

A manifest says ``component: projection_worker``; this module answers which process that is (the
pid file in ``PIMLAB_RUN_DIR``, checked against the process's command line), how the lab starts it
again (``PIMLAB_CHAOS_COMPONENT_COMMANDS``) and which event bus is the lab's (settings). Nothing
here takes a path, a command, an environment or a URL from a manifest.

Supervision: under ``make run`` each process component runs under ``manage.py lab_supervise
<component>`` (a Procfile entry), which writes the pid file and starts the component again when
asked (a ``<component>.restart`` request), so a drill's kill and restart never leave honcho's
process tree. Without a supervisor the restart runs the lab's command as a child of the calling
process, in its process group, so it stops with the process that started it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from .ha_lab import process_alive
from .registry import ActivityFailed

# Every component a blast radius may target; the probes' chaos guard reads the same names.
LAB_COMPONENTS = ("relay", "projection_worker", "eventbus", "audit_store", "shard_map")
PROCESS_COMPONENTS = ("projection_worker", "eventbus")
RESTART_WAIT_SECONDS = 30.0

_children: list[subprocess.Popen] = []  # started here without a supervisor: reaped, never orphaned


def run_dir() -> Path:
    path = Path(settings.PIMLAB_RUN_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def pidfile(component: str) -> Path:
    return run_dir() / f"{component}.pid"


def supervisor_pidfile(component: str) -> Path:
    return run_dir() / f"{component}.supervisor.pid"


def restart_request(component: str) -> Path:
    return run_dir() / f"{component}.restart"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def uses_redis_bus() -> bool:
    return settings.PIMLAB_EVENTBUS_URL.startswith(("redis://", "rediss://", "unix://"))


def component_pid(component: str) -> int | None:
    """The live pid of a supervised component, or None; a pid whose process is not the component is None."""
    if component not in PROCESS_COMPONENTS:
        raise ActivityFailed(f"{component!r} is not a process component ({', '.join(PROCESS_COMPONENTS)}).")
    pid = _read_pid(pidfile(component))
    if not process_alive(pid):
        return None
    marker = settings.PIMLAB_CHAOS_PROCESS_MARKERS.get(component, "")
    if marker and marker not in _command_line(pid):
        return None
    return pid


def require_pid(component: str) -> int:
    pid = component_pid(component)
    if pid is None:
        # Never echo the file's content: it is not the manifest's to read.
        raise ActivityFailed(
            f"No live supervised {component} (pid file {pidfile(component)}); "
            f"start the lab with `make run` or `python manage.py lab_supervise {component}`."
        )
    return pid


def supervision_problem(component: str) -> str | None:
    """Why a drill could not find this component's process now (None when it can)."""
    if component not in PROCESS_COMPONENTS:
        return None  # not a process; the argument check reports an unknown component
    if component_pid(component) is None and not process_alive(_read_pid(supervisor_pidfile(component))):
        return (
            f"process supervision of {component}: no live supervised {component} in {run_dir()} "
            f"(run `make run`, or `python manage.py lab_supervise {component}`)"
        )
    return None


def component_command(component: str) -> list[str]:
    command = settings.PIMLAB_CHAOS_COMPONENT_COMMANDS.get(component)
    if not command:
        raise ActivityFailed(f"The lab has no command to start {component}.")
    return [sys.executable if part == "{python}" else part for part in command]


def component_start(component: str) -> int:
    """Start a killed component again: through its supervisor when there is one, else as our child."""
    if component_pid(component) is not None:
        return component_pid(component)  # already back (the supervisor restarted it)
    supervisor = _read_pid(supervisor_pidfile(component))
    if process_alive(supervisor):
        restart_request(component).touch()
        deadline = time.monotonic() + RESTART_WAIT_SECONDS
        while time.monotonic() < deadline:
            pid = component_pid(component)
            if pid is not None:
                return pid
            time.sleep(0.1)
        raise ActivityFailed(f"The supervisor of {component} did not start it within {RESTART_WAIT_SECONDS:.0f} s.")
    log = open(run_dir() / f"{component}.log", "ab")  # noqa: SIM115 - handed to the child
    # No new session: the child stays in this process's group and stops with it (honcho kills groups).
    process = subprocess.Popen(
        component_command(component), cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    _children.append(process)
    pidfile(component).write_text(str(process.pid))
    return process.pid


def reap_children() -> None:
    for process in list(_children):
        if process.poll() is not None:
            _children.remove(process)


def stop_children() -> None:
    """Stop what this process started (tests, and a worker shutting down)."""
    for process in list(_children):
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        _children.remove(process)


def eventbus_outage_flag() -> Path:
    return run_dir() / "eventbus.outage"
