from prometheus_client import Counter, Histogram

from apps.telemetry.metric_defaults import label_product, shards, zero_series

SYNTHETIC_PROBE_SUCCESS_TOTAL = Counter(
    "synthetic_probe_success_total",
    "Synthetic probe runs that completed every step of their scenario.",
    ["scenario", "shard_id"],
)
SYNTHETIC_PROBE_DURATION_SECONDS = Histogram(
    "synthetic_probe_duration_seconds",
    "Wall time of one synthetic probe run (all its HTTP steps), by scenario and outcome (success, failure, skipped).",
    ["scenario", "outcome", "shard_id"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0),
)

# Series that exist before the first hourly run (apps/telemetry/metric_defaults.py).
_SCENARIOS = ("encounter_booking", "clinical_documentation", "claim_submission", "chaos_failover")
zero_series(SYNTHETIC_PROBE_SUCCESS_TOTAL, lambda: label_product(scenario=_SCENARIOS, shard_id=shards()))
zero_series(
    SYNTHETIC_PROBE_DURATION_SECONDS,
    lambda: label_product(scenario=_SCENARIOS, outcome=("success", "failure", "skipped"), shard_id=shards()),
)
