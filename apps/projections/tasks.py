from __future__ import annotations

from celery import shared_task

from apps.outbox.eventbus import get_event_bus

from .consumer import ProjectionConsumer
from .services import projection_backlog_check


@shared_task(name="projections.drain", ignore_result=True)
def projections_drain_task(max_batches: int = 50) -> int:
    """Apply what is waiting on the bus (beat-driven, so `make run` needs no extra process)."""
    return ProjectionConsumer(bus=get_event_bus(), consumer="beat-drain").drain(max_batches=max_batches)


@shared_task(name="projections.backlog_check", ignore_result=True)
def projections_backlog_check_task() -> int:
    return projection_backlog_check(bus=get_event_bus()).total
