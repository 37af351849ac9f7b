from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.outbox.relay import RELAY_BATCH_SIZE, outbox_relay_drain


class Command(BaseCommand):
    help = "Publish the pending outbox events of one shard (or all) now, as the relay task would."

    def add_arguments(self, parser):
        parser.add_argument("--shard", action="append", help="Shard alias (repeatable); default: every shard.")
        parser.add_argument("--batch-size", type=int, default=RELAY_BATCH_SIZE)

    def handle(self, *args, shard=None, batch_size=RELAY_BATCH_SIZE, **options):
        aliases = shard or list(settings.SHARD_ALIASES)
        unknown = sorted(set(aliases) - set(settings.SHARD_ALIASES))
        if unknown:
            raise CommandError(
                f"Unknown shard(s) {', '.join(unknown)}; configured: {', '.join(settings.SHARD_ALIASES)}"
            )
        for alias in aliases:
            published = outbox_relay_drain(shard_alias=alias, batch_size=batch_size)
            self.stdout.write(f"{alias}: published {published}")
