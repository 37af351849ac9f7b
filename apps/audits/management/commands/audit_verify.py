"""Verify every shard's hash chain in the audit store; exit 1 at the first broken link."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.audits.verification import audit_chain_shards, audit_chain_verify


class Command(BaseCommand):
    help = "Walk each shard's audit chain in the audit store and report the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--shard", action="append", help="Only this shard alias (repeatable).")
        parser.add_argument(
            "--no-source-check",
            action="store_true",
            help="Do not compare the chain's length with the events the shards marked as shipped.",
        )

    def handle(self, *args, shard=None, no_source_check=False, **options):
        broken = []
        for alias in shard or audit_chain_shards():
            verdict = audit_chain_verify(shard_alias=alias, check_source=not no_source_check)
            if verdict.intact:
                self.stdout.write(self.style.SUCCESS(f"{alias}: intact ({verdict.links_checked} links verified)"))
                continue
            link = verdict.broken
            record = f" (record id {link.record_id})" if link.record_id is not None else ""
            self.stdout.write(
                self.style.ERROR(
                    f"{alias}: BROKEN at link #{link.sequence}{record} after {verdict.links_checked} good links: "
                    f"{link.reason}"
                )
            )
            broken.append(alias)
        if broken:
            raise CommandError(
                f"Audit chain broken on {', '.join(broken)}. Follow docs/runbooks/11_audit-log-degradation.md."
            )
