from prometheus_client import Counter, Histogram

from apps.outbox.metrics import OUTBOX_DEAD_LETTERED_TOTAL
from apps.telemetry.metric_defaults import label_product, shards, zero_series

from .notes.telemetry import ENCOUNTER_NOTE_UPDATE_DURATION

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

# Series that exist before the first booking (apps/telemetry/metric_defaults.py).
zero_series(
    ENCOUNTER_WRITE_LATENCY,
    lambda: label_product(
        shard_id=shards(), outcome=("created", "replayed", "conflict", "failed"), actor_role=("patient", "clinician")
    ),
)
zero_series(OUTBOX_DEAD_LETTERED_TOTAL, lambda: label_product(shard_id=shards(), event_type=("EncounterCreated",)))
zero_series(
    ENCOUNTER_NOTE_UPDATE_DURATION,
    lambda: label_product(
        outcome=("success", "version_conflict", "forbidden", "unavailable"),
        shard_id=shards(),
        actor_role=("clinician",),
    ),
)
