"""``manage.py observe``: the lab's Prometheus and Alertmanager in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.slo.receiver import alert_receiver_token_ensure
from apps.slo.stack import StackError, StackTargets, stack_start


class Command(BaseCommand):
    help = (
        "Start Prometheus (scraping web, Celery worker, projection worker; SLO and failure-mode rules) and "
        "Alertmanager (routing to the lab's webhook receiver) with the configs of dashboards/prometheus/."
    )

    def add_arguments(self, parser):
        parser.add_argument("--directory", default=None, help="Rendered configs, data and logs (PIMLAB_OBSERVE_DIR).")
        parser.add_argument("--check", action="store_true", help="Render the configs and exit without starting.")

    def handle(self, *args, directory, check, **options):
        folder = Path(directory or settings.PIMLAB_OBSERVE_DIR)
        web = f"127.0.0.1:{settings.PIMLAB_WEB_PORT}"
        targets = StackTargets(
            web=[web],
            worker=[f"127.0.0.1:{settings.PIMLAB_WORKER_METRICS_PORT}"] if settings.PIMLAB_WORKER_METRICS_PORT else [],
            projection_worker=[f"127.0.0.1:{settings.PIMLAB_PROJECTION_METRICS_PORT}"]
            if settings.PIMLAB_PROJECTION_METRICS_PORT
            else [],
            receiver_url=f"http://{web}/api/alerts/alertmanager",
        )
        token_file = alert_receiver_token_ensure()
        if check:
            self.stdout.write(f"receiver token: {token_file}")
            return
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        try:
            stack = stack_start(
                directory=folder,
                targets=targets,
                token_file=token_file,
                prometheus_port=settings.PIMLAB_PROMETHEUS_PORT,
                alertmanager_port=settings.PIMLAB_ALERTMANAGER_PORT,
            )
        except StackError as exc:
            raise CommandError(str(exc)) from exc
        scraped = ", ".join(targets.web + targets.worker + targets.projection_worker)
        self.stdout.write(
            f"Prometheus {stack.prometheus.url} (targets: {scraped})\n"
            f"Alertmanager {stack.alertmanager.url} -> {targets.receiver_url}\n"
            f"configs, data and logs in {folder}; Ctrl-C stops both"
        )
        try:
            while not stopping.wait(1.0):
                for server in (stack.prometheus, stack.alertmanager):
                    if server.process.poll() is not None:
                        raise CommandError(f"{server.name} exited; see {server.log_path}")
        finally:
            stack.stop()
