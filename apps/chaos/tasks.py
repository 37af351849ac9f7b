"""Thin Celery tasks: fetch by id, call a service.

``chaos.run_execute`` is routed to the `chaos` queue (its own worker in the Procfile) with Celery
time limits (``CELERY_TASK_ANNOTATIONS``), so a drill never takes the relay's or the audit
shipper's worker slots. The reaper runs on the default queue: it must work while the chaos
worker is dead.
"""

from __future__ import annotations

from celery import shared_task

from .runner import run_execute, runs_reap_lost
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
    """Launch the due scheduled experiments (each launch hands its run to the chaos worker)."""
    return [run.pk for run in scheduled_runs_launch()]


@shared_task(name="chaos.reap_lost_runs")
def chaos_reap_lost_runs() -> list[int]:
    """Roll back and end the runs whose worker stopped heartbeating."""
    return [run.pk for run in runs_reap_lost()]
