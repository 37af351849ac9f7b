"""Adding shards on one server: booking throughput with 2 and with 4 shard databases.

    .venv/bin/python bench/shard_scaling.py [--shards 2 4] [--phase-seconds 6] [--rounds 2]

Each shard count runs in its own process with its own databases (prefix ``pimlab_shards<n>``: a
catalog, n shards, an audit store, all on the same PostgreSQL) and its own gunicorn, as
``bench/booking_relay_bench.py`` runs it: the patient personas are spread over every shard by
the shard map, wrk books flat out, pgbench runs the same inserts on shard 0 right before and
after. The rounds alternate the shard counts (2, 4, 2, 4, ...) so that load from the rest of the
machine weighs on both; the table gives booking req/s ÷ pgbench tps (median of the rounds) for
each count and the ratio of the largest count to the smallest, against the target ≥ 0.90, and
writes the same as JSON under ``var/bench/``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90


def child(shards: int, phase_seconds: float) -> dict:
    """One measurement with ``shards`` shard databases (run in a fresh process: settings are read once)."""
    sys.path.insert(0, str(ROOT))
    import tempfile

    from bench import booking_relay_bench as booking
    from bench.data_growth import booking_ratio, growth_env, server_ready

    for index in range(2, shards):
        booking.DATABASE_NAMES[f"shard{index}"] = f"{booking.PREFIX}_shard{index}"
    env = growth_env()
    env["PIMLAB_SHARD_URLS"] = ",".join(f"{booking.PG}/{booking.PREFIX}_shard{index}" for index in range(shards))
    Path(env["PIMLAB_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    booking.ensure_databases()
    booking.setup_django(env)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate_all", verbosity=0)
    for index in range(2, shards):  # booking.migrate_and_seed empties shards 0 and 1
        booking.shard_empty(f"shard_{index}")
    pairs, shard0_patient = booking.migrate_and_seed()
    booking.run(["redis-cli", "-n", booking.REDIS_DB, "FLUSHDB"])
    tmp = Path(tempfile.mkdtemp(prefix=f"pimlab-shards{shards}-"))
    with booking.web_server(env, tmp, "web", pairs, warm_up=False) as (port, _):
        ready = server_ready(port, *pairs[0])
        booking.wrk(port, pairs, 2, tmp)  # warm-up
        result = booking_ratio(port, pairs, shard0_patient, phase_seconds, tmp)
    per_shard = {}
    for alias in connections:
        if alias.startswith("shard_"):
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT count(*) FROM patients_patient")
                per_shard[alias] = cursor.fetchone()[0]
    return {**result, "shards": shards, "ready_seconds": ready, "patients_per_shard": per_shard}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 4], help="shard counts (default 2 4)")
    parser.add_argument("--phase-seconds", type=float, default=6, help="booking phase length (default 6)")
    parser.add_argument("--rounds", type=int, default=2, help="measurements per shard count (default 2)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.phase_seconds)), flush=True)
        return
    counts = sorted(set(args.shards))
    if len(counts) < 2:
        parser.error("give at least two shard counts")
    load_before = os.getloadavg()
    out_dir = Path(os.environ.get("PIMLAB_VAR_DIR", ROOT / "var")) / "bench"
    runs: dict[int, list[dict]] = {count: [] for count in counts}
    for _ in range(args.rounds):
        for count in counts:
            env = {**os.environ, "PIMLAB_BENCH_DB_PREFIX": f"pimlab_shards{count}"}
            completed = subprocess.run(
                [sys.executable, __file__, "--child", str(count), "--phase-seconds", str(args.phase_seconds)],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            line = next((line for line in completed.stdout.splitlines() if line.startswith("RESULT ")), None)
            if line is None:
                sys.exit(f"the {count}-shard run failed:\n{completed.stderr[-3000:]}")
            result = json.loads(line.removeprefix("RESULT "))
            runs[count].append(result)
            print(
                f"{count} shards: {result['rps']:.1f} req/s, pgbench {result['pgbench_tps']:.0f} tps,"
                f" ratio {result['ratio']:.4f} (patients per shard {result['patients_per_shard']})",
                flush=True,
            )
    medians = {count: statistics.median(r["ratio"] for r in runs[count]) for count in counts}
    small, large = counts[0], counts[-1]
    ratio = medians[large] / medians[small]
    met = ratio >= TARGET
    print(f"{'figure':<32}{small} shards  {large} shards  ratio  target  met?")
    print(
        f"{'booking req/s ÷ pgbench tps':<32}{medians[small]:<10.4f}{medians[large]:<11.4f}{ratio:<7.3f}"
        f"≥ {TARGET}   {'yes' if met else 'NO'}"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out_dir / f"shard-scaling-{stamp}.json"
    document = {
        "bench": "shard-scaling",
        "at": stamp,
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "figures": [
            {
                "name": "booking req/s ÷ pgbench tps",
                "small": medians[small],
                "large": medians[large],
                "ratio": ratio,
                "target": TARGET,
                "met": met,
            }
        ],
        "details": {"runs": runs, "args": vars(args)},
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    print(f"load average {load_before[0]:.2f} → {document['load_average'][0]:.2f} on {os.cpu_count()} cores; {path}")


if __name__ == "__main__":
    main()
