from prometheus_client import Counter, Histogram

ENCOUNTER_WRITE_LATENCY = Histogram(
    "encounter_write_latency",
    "Seconds the orchestrator spends writing a booking (shard transaction incl. retries), by shard and outcome.",
    ["shard_id", "outcome", "actor_role"],
    buckets=(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ENCOUNTER_WRITE_RETRIES_TOTAL = Counter(
    "encounter_write_retries_total",
    "Booking transactions retried after a transient SQL error (connection lost, serialization failure, deadlock).",
    ["shard_id", "error"],
)
