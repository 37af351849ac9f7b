from __future__ import annotations

from celery import shared_task

from .runner import probe_run_all


@shared_task(name="probes.run_all")
def probes_run_all_task() -> dict:
    """Hourly: every scenario on every shard; returns the count of results per outcome."""
    counts: dict[str, int] = {}
    for result in probe_run_all():
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts


@shared_task(name="probes.chaos_failover")
def probes_chaos_failover_task() -> str:
    """Hourly: the failover scenario on the chaos path (dry run + steady state, nothing injected)."""
    from .chaos_probe import probe_chaos_failover_run

    return probe_chaos_failover_run().outcome
