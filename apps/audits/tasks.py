"""Celery tasks of the audit trail: thin wrappers around the shipper."""

from __future__ import annotations

from celery import shared_task

from .shipping import audit_events_ship, audit_shards
from .verification import audit_chains_verify_and_alert


@shared_task(name="audits.ship_shard", ignore_result=True)
def audit_ship_shard(shard_alias: str) -> int:
    return audit_events_ship(shard_alias=shard_alias).shipped


@shared_task(name="audits.ship_all", ignore_result=True)
def audit_ship_all() -> None:
    for alias in audit_shards():
        audit_ship_shard.delay(alias)


@shared_task(name="audits.verify_all", ignore_result=True)
def audit_verify_all() -> int:
    """Scheduled chain verification; returns how many chains are broken."""
    return sum(not verdict.intact for verdict in audit_chains_verify_and_alert())
