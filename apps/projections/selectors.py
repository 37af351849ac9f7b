"""Reads of the financial read models for the dashboard API and portal page."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import structlog
from django.db.models import Count, Sum
from django.utils import timezone

from .backlog import ProjectionBacklog, projection_backlog_measure, projection_backlog_read
from .events import PROJECTION_NAME
from .models import ClaimFact, EncounterFact, FinancialDailyAggregate, ProcessedEvent, ProjectionCheckpoint

logger = structlog.get_logger(__name__)


def _money(value) -> str:
    return str((value or Decimal("0")).quantize(Decimal("0.01")))


def _average(total: int, count: int) -> float | None:
    return round(total / count, 1) if count else None


def financial_kpis(*, days: int = 30, today: date | None = None) -> dict:
    """KPIs over the last ``days`` submission days, plus per-day, per-payer and per-status breakdowns."""
    today = today or timezone.now().date()
    since = today - timedelta(days=days - 1)
    rows = list(FinancialDailyAggregate.objects.using("default").filter(day__gte=since))

    def group(key) -> list[dict]:
        buckets: dict = {}
        for row in rows:
            bucket = buckets.setdefault(
                key(row), {"claims": 0, "amount": Decimal("0"), "paid": Decimal("0"), "lag_sum": 0, "lag_count": 0}
            )
            bucket["claims"] += row.claim_count
            bucket["amount"] += row.total_amount
            bucket["paid"] += row.paid_amount
            bucket["lag_sum"] += row.lag_seconds_sum
            bucket["lag_count"] += row.lag_count
        return [
            {
                "key": k,
                "claims": v["claims"],
                "amount": _money(v["amount"]),
                "paid_amount": _money(v["paid"]),
                "avg_submission_lag_seconds": _average(v["lag_sum"], v["lag_count"]),
            }
            for k, v in sorted(buckets.items(), key=lambda item: str(item[0]))
        ]

    per_status = {item["key"]: item for item in group(lambda row: row.status)}
    totals = group(lambda row: "all")
    total = (
        totals[0]
        if totals
        else {"claims": 0, "amount": "0.00", "paid_amount": "0.00", "avg_submission_lag_seconds": None}
    )
    encounters = EncounterFact.objects.using("default").filter(booked_day__gte=since)
    encounter_count = encounters.count()
    claimed_encounters = (
        ClaimFact.objects.using("default")
        .filter(encounter_id__in=encounters.values("encounter_id"), submitted_at__isnull=False)
        .count()
    )
    empty = {"claims": 0, "amount": "0.00", "paid_amount": "0.00"}
    return {
        "window": {"days": days, "from": since.isoformat(), "to": today.isoformat()},
        "totals": {
            "claims": total["claims"],
            "amount": total["amount"],
            "paid_amount": total["paid_amount"],
            "avg_submission_lag_seconds": total["avg_submission_lag_seconds"],
            "open": {k: per_status.get("submitted", empty)[k] for k in ("claims", "amount")},
            "paid": {k: per_status.get("paid", empty)[k] for k in ("claims", "amount", "paid_amount")},
            "encounters_booked": encounter_count,
            "encounters_unbilled": encounter_count - claimed_encounters,
        },
        "per_day": [{**item, "day": item.pop("key").isoformat()} for item in group(lambda row: row.day)],
        "per_payer": [{**item, "payer_code": item.pop("key")} for item in group(lambda row: row.payer_code)],
        "per_status": [{**item, "status": item.pop("key")} for item in group(lambda row: row.status)],
    }


def projection_backlog(*, bus) -> ProjectionBacklog:
    """Events waiting for the projection worker and the claim staleness, without exporting or alerting."""
    return projection_backlog_read(bus=bus)


def projection_freshness(*, bus) -> dict:
    checkpoint = ProjectionCheckpoint.objects.using("default").filter(name=PROJECTION_NAME).first()
    try:
        backlog = projection_backlog_measure(bus=bus() if callable(bus) else bus)
    except Exception as exc:
        logger.warning("projection_freshness_unknown", error=type(exc).__name__)
        backlog = None
    return {
        "staleness_seconds": round(backlog.staleness_seconds, 3) if backlog else None,
        "backlog_events": backlog.total if backlog else None,
        "event_bus_reachable": backlog is not None,
        "backlog_alert": checkpoint.backlog_alert_firing if checkpoint else False,
        "events_applied": checkpoint.events_applied if checkpoint else 0,
        "last_event_occurred_at": checkpoint.last_event_occurred_at if checkpoint else None,
        "last_applied_at": checkpoint.last_applied_at if checkpoint else None,
        "last_rebuilt_at": checkpoint.last_rebuilt_at if checkpoint else None,
    }


def read_models_snapshot() -> dict:
    """Every read-model row as plain values, for comparing an incremental result with a rebuild."""
    return {
        "aggregates": sorted(
            FinancialDailyAggregate.objects.using("default").values_list(
                "day",
                "payer_code",
                "status",
                "claim_count",
                "total_amount",
                "paid_amount",
                "lag_seconds_sum",
                "lag_count",
            )
        ),
        "claims": sorted(
            ClaimFact.objects.using("default").values_list(
                "claim_id",
                "encounter_id",
                "payer_code",
                "status",
                "total_amount",
                "paid_amount",
                "submitted_at",
                "paid_at",
                "encounter_start",
                "submission_lag_seconds",
            )
        ),
        "encounters": sorted(
            EncounterFact.objects.using("default").values_list(
                "encounter_id", "patient_id", "encounter_type", "requested_start", "booked_at"
            )
        ),
        "processed_events": ProcessedEvent.objects.using("default").aggregate(n=Count("event_id"))["n"],
    }


def claims_total_amount() -> Decimal:
    return FinancialDailyAggregate.objects.using("default").aggregate(total=Sum("total_amount"))["total"] or Decimal(0)
