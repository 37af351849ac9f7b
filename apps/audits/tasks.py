"""Celery tasks of the audit trail: thin wrappers around the shipper."""

from __future__ import annotations

from celery import shared_task

from .shipping import audit_events_ship, audit_shards


@shared_task(name="audits.ship_shard", ignore_result=True)
def audit_ship_shard(shard_alias: str) -> int:
    return audit_events_ship(shard_alias=shard_alias).shipped


@shared_task(name="audits.ship_all", ignore_result=True)
def audit_ship_all() -> None:
    for alias in audit_shards():
        audit_ship_shard.delay(alias)
