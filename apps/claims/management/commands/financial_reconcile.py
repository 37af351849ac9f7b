from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.claims.reconciliation import financial_reconcile


class Command(BaseCommand):
    help = (
        "Compare the financial read models with the claims on every shard (active and archived) per "
        "submission day, payer and status. Differences are claims not yet projected or lost events."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument(
            "--settle-seconds",
            type=int,
            default=60,
            help="Ignore claims newer than this: they may still be on their way.",
        )

    def handle(self, *args, days, settle_seconds, **options):
        now = timezone.now()
        report = financial_reconcile(since=now - timedelta(days=days), until=now - timedelta(seconds=settle_seconds))
        self.stdout.write(f"checked {report.claims_on_shards} claims on shards, {report.claims_projected} projected")
        for key, (source, projected) in sorted(report.differences.items()):
            self.stderr.write(f"{key}: shards {source}  read model {projected}")
        if report.differences:
            raise CommandError(
                f"{len(report.differences)} day/payer/status buckets differ; see runbook "
                "docs/runbooks/22_financial-dashboard-validation.md"
            )
        self.stdout.write(self.style.SUCCESS("Financial read models match the claims on the shards."))
