"""The relay phase of ``booking_relay_bench.py`` alone, repeated: a ratio per run and min/median/max.

    PIMLAB_BENCH_DB_PREFIX=pimlab_bench PIMLAB_BENCH_REDIS_DB=3 \\
        .venv/bin/python bench/relay_bench.py [--runs 3]

Each run pre-fills the same 20,000 outbox rows on shard 0, times ``outbox_relay_drain`` (in the
relay task's batches) and brackets it with redis-benchmark XADD on the same Redis, right before and
right after, so that load from other processes weighs on both sides of the ratio alike. It also gives
the relay's own CPU time per event (user + system), which contention changes much less than wall time.
Same databases, settings and Redis database as the full bench, which it leaves as it found them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import bench.booking_relay_bench as full  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = full.bench_env()
    env["PIMLAB_LOG_LEVEL"] = "WARNING"
    Path(env["PIMLAB_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    full.ensure_databases()
    full.setup_django(env)
    from django.core.management import call_command
    from django.db import connections

    import apps.outbox.relay as relay

    call_command("migrate_all", verbosity=0)
    for alias in ("shard_0", "shard_1"):
        with connections[alias].cursor() as cursor:
            # The seed empties the bench's own shards, audit trail included (the guard's owner override).
            cursor.execute("SET pimlab.allow_truncate = 'on'")
    pairs, _ = full.migrate_and_seed()
    drain, spent = relay.outbox_relay_drain, {}

    def measured_drain(**kwargs):
        started = cpu_seconds()
        try:
            return drain(**kwargs)
        finally:
            spent["cpu"] = cpu_seconds() - started

    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    ratios = []
    relay.outbox_relay_drain = measured_drain
    try:
        for run in range(1, args.runs + 1):
            before = full.raw_xadd()["xadd_per_s"]
            result = full.relay_throughput([patient_id for _, patient_id in pairs])
            after = full.raw_xadd()["xadd_per_s"]
            full.run(["redis-cli", "-n", full.REDIS_DB, "FLUSHDB"])
            ratio = result["events_per_s"] / ((before + after) / 2)
            ratios.append(ratio)
            print(
                f"run {run}: relay {result['events_per_s']:.0f} events/s ({result['events']} in "
                f"{result['seconds']:.2f} s, CPU {spent['cpu'] * 1e6 / max(result['events'], 1):.0f} µs/event); "
                f"raw XADD {before:.0f} before, {after:.0f} after; ratio {ratio:.3f}; "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            time.sleep(1)
    finally:
        relay.outbox_relay_drain = drain
    print(
        f"relay events/s ÷ raw XADD/s over {len(ratios)} runs: min {min(ratios):.3f}, "
        f"median {statistics.median(ratios):.3f}, max {max(ratios):.3f} (target ≥ 0.20)"
    )


if __name__ == "__main__":
    main()
