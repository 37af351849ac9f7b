"""`python manage.py lab_supervise projection_worker`: run a lab component under the lab's supervision.

The supervisor writes ``PIMLAB_RUN_DIR/<component>.pid`` (its child) and
``<component>.supervisor.pid`` (itself), so a drill finds the component without a path from a
manifest. When the child dies (a drill's SIGKILL) the supervisor stays up and starts it again when
a ``<component>.restart`` request appears (the drill's rollback). The child stays in the
supervisor's process group and gets SIGTERM if the supervisor dies, so stopping ``make run``
(honcho kills each process group) stops it too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.chaos import components

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.2


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Command(BaseCommand):
    help = "Run a lab component (projection worker …) under supervision: pid file, restart on request."

    def add_arguments(self, parser):
        parser.add_argument("component", choices=sorted(settings.PIMLAB_CHAOS_COMPONENT_COMMANDS))
        parser.add_argument(
            "--args", dest="extra", default="", help="More arguments for the component (e.g. --metrics-port=9809)."
        )

    def handle(self, *args, component: str, extra: str = "", **options):
        self.extra = shlex.split(extra)
        stopping: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: stopping.append(signum))
        components.supervisor_pidfile(component).write_text(str(os.getpid()))
        components.restart_request(component).unlink(missing_ok=True)
        child = self._start(component)
        try:
            while not stopping:
                if child.poll() is not None and components.restart_request(component).exists():
                    components.restart_request(component).unlink(missing_ok=True)
                    child = self._start(component)
                time.sleep(POLL_SECONDS)
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(timeout=10)
            for path in (components.pidfile(component), components.supervisor_pidfile(component)):
                path.unlink(missing_ok=True)

    def _start(self, component: str) -> subprocess.Popen:
        child = subprocess.Popen(
            [*components.component_command(component), *self.extra], cwd=settings.BASE_DIR, preexec_fn=_die_with_parent
        )
        components.pidfile(component).write_text(str(child.pid))
        self.stdout.write(f"{component} running as pid {child.pid}")
        self.stdout.flush()
        return child
