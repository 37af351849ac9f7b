import time

from django.core.management.base import BaseCommand, CommandError

from apps.projections.errors import RebuildRefused
from apps.projections.services import read_models_rebuild


class Command(BaseCommand):
    help = (
        "Replay the shards' outbox history into new financial read models built beside the live ones, "
        "then swap them in (one transaction). A failed or empty replay leaves the live read models as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument(
            "--allow-empty",
            action="store_true",
            help="Swap in the replay even when it applied no event while the live read models hold some.",
        )

    def handle(self, *args, batch_size: int, allow_empty: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        started = time.perf_counter()
        try:
            result = read_models_rebuild(batch_size=batch_size, allow_empty=allow_empty)
        except RebuildRefused as exc:
            raise CommandError(f"{exc.detail} {exc.remediation}") from exc
        elapsed = time.perf_counter() - started
        for shard, count in result.per_shard.items():
            self.stdout.write(f"{shard}: {count} outbox events")
        oldest = result.oldest_event_at.isoformat() if result.oldest_event_at else "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"rebuilt from {result.events_read} events ({result.events_applied} applied, "
                f"{result.malformed} malformed skipped; oldest {oldest}) in {elapsed:.1f} s; "
                f"replaced read models that held {result.replaced_events} events"
            )
        )
