"""Chaos drill metrics named by the seed (Chaos-Induced Failover → Instrumentation Notes)."""

from prometheus_client import Counter, Gauge

# Most recent value across processes: the reaper's 0 replaces the 1 of a chaos worker that died.
CHAOS_EXPERIMENT_ACTIVE = Gauge(
    "chaos_experiment_active",
    "1 while a run of the experiment is executing, else 0.",
    ["experiment", "shard_id"],
    multiprocess_mode="mostrecent",
)
SQL_FAILOVER_DURATION_SECONDS = Gauge(
    "sql_failover_duration_seconds",
    "Last measured RTO: from the fault (pod kill, switchover) to the first successful write through the app.",
    ["shard_id", "fault"],
)
API_ERROR_RATIO = Gauge(
    "api_error_ratio",
    "Share of workload requests that failed between the fault and recovery in the last drill.",
    ["experiment", "shard_id"],
)
CHAOS_RUNS_TOTAL = Counter("chaos_runs_total", "Chaos runs by outcome.", ["experiment", "outcome"])
