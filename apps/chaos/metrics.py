"""Chaos drill metrics named by the seed (Chaos-Induced Failover → Instrumentation Notes)."""

from prometheus_client import Counter, Gauge

from apps.telemetry.metric_defaults import label_product, zero_series

# "mostrecent": under the multiprocess metrics of gunicorn and Celery, one series per experiment
# (the value last written by any process), not one per process id.
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
    multiprocess_mode="mostrecent",
)
API_ERROR_RATIO = Gauge(
    "api_error_ratio",
    "Share of workload requests that failed between the fault and recovery in the last drill.",
    ["experiment", "shard_id"],
    multiprocess_mode="mostrecent",
)
CHAOS_RUNS_TOTAL = Counter("chaos_runs_total", "Chaos runs by outcome.", ["experiment", "outcome"])


def experiment_label_sets():
    """One (experiment, shard_id) per manifest in the GitOps folder, labelled as the runner labels it."""
    from .manifests import manifest_files, parse

    for key, text in manifest_files():
        manifest, _ = parse(text)
        targets = (manifest.get("blast_radius") or {}).get("targets") or []
        yield {"experiment": key, "shard_id": ",".join(t.get("name", "") for t in targets) or "none"}


# Series that exist before the first drill (apps/telemetry/metric_defaults.py).
zero_series(CHAOS_EXPERIMENT_ACTIVE, experiment_label_sets)
zero_series(API_ERROR_RATIO, experiment_label_sets)
zero_series(
    SQL_FAILOVER_DURATION_SECONDS,
    lambda: label_product(shard_id=("ha",), fault=("pod_kill", "postmaster_crash", "switchover")),
)
