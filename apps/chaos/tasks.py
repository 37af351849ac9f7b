"""Thin Celery tasks: fetch by id, call a service."""

from __future__ import annotations

from celery import shared_task

from .runner import run_execute
from .selectors import run_get
from .services import experiments_reconcile, scheduled_runs_launch


@shared_task(name="chaos.run_execute", acks_late=True)
def chaos_run_execute(run_id: int) -> str:
    run = run_get(run_id)
    if run is None:
        return "missing"
    return run_execute(run=run).status


@shared_task(name="chaos.reconcile")
def chaos_reconcile() -> dict:
    return experiments_reconcile()


@shared_task(name="chaos.schedule_tick")
def chaos_schedule_tick() -> list[int]:
    """Launch the due scheduled experiments and hand each run to a worker."""
    runs = scheduled_runs_launch()
    for run in runs:
        chaos_run_execute.delay(run.pk)
    return [run.pk for run in runs]
