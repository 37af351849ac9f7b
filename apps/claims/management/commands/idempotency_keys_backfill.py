from django.conf import settings
from django.core.management.base import BaseCommand

from apps.claims.services.submit import claim_keys_on_shard
from apps.core.idempotency import idempotency_keys_import
from apps.encounters.services import booking_keys_on_shard


class Command(BaseCommand):
    help = (
        "Register in the catalog the Idempotency-Keys that bookings and claims on every shard hold "
        "(rows written before the registry, ADR-013). Idempotent: a registered key is left as it is."
    )

    def handle(self, *args, **options):
        for alias in settings.SHARD_ALIASES:
            for use_case, keys in (
                ("encounter.book", booking_keys_on_shard(alias=alias)),
                ("claim.submit", claim_keys_on_shard(alias=alias)),
            ):
                added = idempotency_keys_import(keys)
                self.stdout.write(f"{alias} {use_case}: {len(keys)} keys on the shard, {added} newly registered")
