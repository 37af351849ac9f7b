from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.actors import Actor
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.services import outbox_dead_letters_discard, outbox_dead_letters_retry


class Command(BaseCommand):
    help = (
        "List dead-lettered outbox events per shard; with --retry, send them back to the relay; with --discard, "
        "give up on them (kept as Discarded, audited) so the later events of their patients are published."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shard", action="append", help="Shard alias (repeatable); default: every shard.")
        parser.add_argument("--event-type", help="Only events of this type.")
        parser.add_argument("--retry", action="store_true", help="Requeue the listed dead letters (attempts reset).")
        parser.add_argument(
            "--discard", action="store_true", help="Discard the listed dead letters (releases their patients)."
        )
        parser.add_argument("--id", action="append", type=int, dest="ids", help="Only these event ids (repeatable).")
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args, shard=None, event_type=None, retry=False, discard=False, ids=None, limit=50, **options):
        if retry and discard:
            raise CommandError("Choose --retry or --discard, not both.")
        aliases = shard or list(settings.SHARD_ALIASES)
        unknown = sorted(set(aliases) - set(settings.SHARD_ALIASES))
        if unknown:
            raise CommandError(
                f"Unknown shard(s) {', '.join(unknown)}; configured: {', '.join(settings.SHARD_ALIASES)}"
            )
        for alias in aliases:
            dead = OutboxEvent.objects.using(alias).filter(status=OutboxStatus.DEAD).order_by("id")
            if event_type:
                dead = dead.filter(event_type=event_type)
            if ids:
                dead = dead.filter(id__in=ids)
            rows = list(dead.values("id", "event_type", "aggregate_id", "attempts", "created_at", "last_error")[:limit])
            self.stdout.write(f"{alias}: {dead.count()} dead letter(s)")
            for row in rows:
                self.stdout.write(
                    f"  {row['id']} {row['event_type']} aggregate={row['aggregate_id']} attempts={row['attempts']} "
                    f"created={row['created_at']:%Y-%m-%dT%H:%M:%SZ} error={row['last_error'][:100]!r}"
                )
            if retry and rows:
                requeued = outbox_dead_letters_retry(
                    using=alias, event_ids=[row["id"] for row in rows], actor=Actor.system("outbox_dead_letters")
                )
                self.stdout.write(f"  requeued {requeued}")
            if discard and rows:
                discarded = outbox_dead_letters_discard(
                    using=alias, event_ids=[row["id"] for row in rows], actor=Actor.system("outbox_dead_letters")
                )
                self.stdout.write(f"  discarded {discarded}")
