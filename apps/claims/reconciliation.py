"""Reconciliation of the financial read models against the source of truth: the claims on the shards."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from apps.core.sharding import all_shards
from apps.projections.models import ClaimFact

from .models import ArchivedClaim, Claim


@dataclass
class ReconciliationReport:
    claims_on_shards: int = 0
    claims_projected: int = 0
    # (day, payer, status) -> ((count, amount) on shards, (count, amount) in the read model)
    differences: dict[tuple, tuple] = field(default_factory=dict)


def financial_reconcile(*, since: datetime, until: datetime) -> ReconciliationReport:
    report = ReconciliationReport()
    source: dict[tuple, list] = defaultdict(lambda: [0, Decimal("0")])
    for alias in all_shards():
        for model in (Claim, ArchivedClaim):
            rows = model.objects.using(alias).filter(submitted_at__gte=since, submitted_at__lt=until)
            for submitted_at, payer, status, amount in rows.values_list(
                "submitted_at", "payer_code", "status", "total_amount"
            ):
                bucket = source[(submitted_at.astimezone(UTC).date().isoformat(), payer, status)]
                bucket[0] += 1
                bucket[1] += amount
                report.claims_on_shards += 1
    projected: dict[tuple, list] = defaultdict(lambda: [0, Decimal("0")])
    facts = ClaimFact.objects.using("default").filter(submitted_at__gte=since, submitted_at__lt=until)
    for day, payer, status, amount in facts.values_list("submitted_day", "payer_code", "status", "total_amount"):
        bucket = projected[(day.isoformat(), payer, status)]
        bucket[0] += 1
        bucket[1] += amount
        report.claims_projected += 1
    for key in set(source) | set(projected):
        left, right = tuple(source.get(key, (0, Decimal("0")))), tuple(projected.get(key, (0, Decimal("0"))))
        if left != right:
            report.differences[key] = (left, right)
    return report
