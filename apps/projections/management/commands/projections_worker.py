import signal

from django.core.management.base import BaseCommand

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from apps.projections.services import projection_backlog_check


class Command(BaseCommand):
    help = "Run a financial projection worker (a consumer in the projections consumer group) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--consumer", default=None, help="Consumer name (default: host-pid).")
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument(
            "--claim-idle-ms", type=int, default=30_000, help="Claim entries left pending this long by a dead consumer."
        )
        parser.add_argument("--max-batches", type=int, default=None)
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=None,
            help="Serve this worker's Prometheus metrics on this port (lag, staleness, backlog).",
        )

    def handle(self, *args, consumer, batch_size, claim_idle_ms, max_batches, metrics_port, **options):
        if metrics_port:
            from prometheus_client import start_http_server

            start_http_server(metrics_port)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        bus = get_event_bus()
        worker = ProjectionConsumer(bus=bus, consumer=consumer, batch_size=batch_size, claim_idle_ms=claim_idle_ms)
        batches = []

        def on_batch(outcome):
            batches.append(outcome)
            if len(batches) % 20 == 0:
                projection_backlog_check(bus=bus)

        applied = worker.run(stop=lambda: bool(stopping), max_batches=max_batches, on_batch=on_batch)
        self.stdout.write(f"stopped after applying {applied} events")
