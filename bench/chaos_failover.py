"""Repeat the failover drill's activities on the HA lab and print RTO/RPO figures.

    PIMLAB_VAR_DIR=/tmp/chaos-var DJANGO_SETTINGS_MODULE=pimlab_portal.settings.local \
        .venv/bin/python bench/chaos_failover.py --runs 3

Builds the lab if it is not up (and removes it afterwards), then for each run: wait for a healthy
pair, start the ORM workload, pod-kill the leader, measure RTO (kill → first acknowledged write),
stop the workload, check every acknowledged write on the new leader (RPO), rejoin the old leader.
One postmaster-only crash is measured the same way.
A planned switchover measured in the same sitting is the baseline the pod-kill RTO is divided by.
Timings depend on the machine's load: quote ratios, and say what else was running.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimlab_portal.settings.local")

import django

django.setup()

from apps.chaos import ha_lab  # noqa: E402
from apps.chaos.management.commands.lab_ha import migrate_ha_shard  # noqa: E402
from apps.chaos.registry import ActivityContext, get_activity  # noqa: E402


def act(ctx: ActivityContext, name: str, **arguments):
    return get_activity("action", name).function(ctx, **arguments)


def drill(fault_action: str) -> dict:
    ctx = ActivityContext(experiment_key=f"bench-{fault_action}")
    try:
        act(ctx, "ha_wait_healthy", timeout=180)
        act(ctx, "workload_start", kind="orm", writers=2)
        ctx.sleep(2)
        act(ctx, fault_action)
        act(ctx, "ha_measure_recovery", timeout=180)
        ctx.sleep(2)
        act(ctx, "workload_stop")
        act(ctx, "ha_rejoin", timeout=240)
    finally:
        act(ctx, "workload_stop", verify=False)
    return dict(ctx.summary)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    built = ha_lab.load_state() is None or not ha_lab.process_alive(ha_lab.load_state().etcd_pid)
    if built:
        migrate_ha_shard(ha_lab.lab_up())
    try:
        baseline = drill("ha_switchover")
        crash = drill("ha_postmaster_kill")
        kills = [drill("ha_pod_kill") for _ in range(args.runs)]
    finally:
        if built:
            ha_lab.lab_down()
    rtos = [k["rto_seconds"] for k in kills]
    result = {
        "runs": args.runs,
        "pod_kill_rto_seconds": {"min": min(rtos), "median": statistics.median(rtos), "max": max(rtos), "all": rtos},
        "pod_kill_acknowledged_writes_lost": [k["rpo_acknowledged_writes_lost"] for k in kills],
        "pod_kill_acknowledged_writes": [k["workload_acknowledged"] for k in kills],
        "pod_kill_error_ratio": [k["error_ratio"] for k in kills],
        "switchover_rto_seconds (baseline)": baseline["rto_seconds"],
        "switchover_acknowledged_writes_lost": baseline["rpo_acknowledged_writes_lost"],
        "postmaster_crash_rto_seconds": crash["rto_seconds"],
        "postmaster_crash_acknowledged_writes_lost": crash["rpo_acknowledged_writes_lost"],
        "pod_kill_rto / switchover_rto (median)": round(statistics.median(rtos) / baseline["rto_seconds"], 1),
        "pod_kill_rto / 25 s target (max)": round(max(rtos) / 25, 2),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
