import time

from django.core.management.base import BaseCommand

from apps.outbox.eventbus import get_event_bus
from apps.projections.services import read_models_rebuild


class Command(BaseCommand):
    help = "Replay the full event history into empty financial read models (atomically)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, batch_size: int, **options):
        started = time.perf_counter()
        result = read_models_rebuild(bus=get_event_bus(), batch_size=batch_size)
        elapsed = time.perf_counter() - started
        for stream, count in result.per_stream.items():
            self.stdout.write(f"{stream}: {count} events")
        self.stdout.write(
            self.style.SUCCESS(
                f"rebuilt from {result.events_read} events ({result.events_applied} applied, "
                f"{result.malformed} malformed skipped) in {elapsed:.1f} s"
            )
        )
