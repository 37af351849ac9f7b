"""Audit trail metrics (seed: `audit_event_write_total`, audit write latency vs NFR-09, buffering for NFR-20)."""

from prometheus_client import Counter, Gauge, Histogram

from apps.telemetry.metric_defaults import label_product, shards, zero_series

AUDIT_EVENT_WRITE_TOTAL = Counter(
    "audit_event_write_total",
    "AUDIT_EVENT rows written on a shard, in the transaction of the change they record.",
    ["shard_id", "outcome", "actor_role"],
)
AUDIT_WRITE_LATENCY_SECONDS = Histogram(
    "audit_write_latency_seconds",
    "Time to write audit rows: `shard` = the AUDIT_EVENT insert in the request transaction, "
    "`store` = one shipper append (batch) to the audit store.",
    ["stage", "shard_id"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
AUDIT_WRITE_LATENCY_THRESHOLD_EXCEEDED_TOTAL = Counter(
    "audit_write_latency_threshold_exceeded_total",
    "Audit writes slower than settings.PIMLAB_AUDIT_WRITE_LATENCY_THRESHOLD_SECONDS (NFR-09).",
    ["stage", "shard_id"],
)
AUDIT_BUFFER_DEPTH = Gauge(
    "audit_buffer_depth",
    "AUDIT_EVENT rows committed on a shard and not yet shipped to the audit store.",
    ["shard_id"],
    multiprocess_mode="mostrecent",
)
AUDIT_BUFFER_OLDEST_AGE_SECONDS = Gauge(
    "audit_buffer_oldest_age_seconds",
    "Age of the oldest unshipped AUDIT_EVENT on a shard (0 when the buffer is empty).",
    ["shard_id"],
    multiprocess_mode="mostrecent",
)
AUDIT_STORE_AVAILABLE = Gauge(
    "audit_store_available",
    "1 when the shipper last reached the audit store for this shard, 0 when it could not (buffering).",
    ["shard_id"],
    multiprocess_mode="mostrecent",
)
AUDIT_EVENTS_SHIPPED_TOTAL = Counter(
    "audit_events_shipped_total", "AUDIT_EVENT rows appended to the audit store's hash chain.", ["shard_id"]
)
AUDIT_SHIP_FAILURES_TOTAL = Counter(
    "audit_ship_failures_total", "Shipper runs that could not reach the audit store.", ["shard_id", "reason"]
)
AUDIT_CHAIN_BROKEN = Gauge(
    "audit_chain_broken",
    "1 when the last `audit_verify` found a broken link in this shard's chain.",
    ["shard_id"],
    multiprocess_mode="mostrecent",
)

# Series that exist before the first audited change (apps/telemetry/metric_defaults.py).
zero_series(
    AUDIT_EVENT_WRITE_TOTAL,
    lambda: label_product(
        shard_id=shards(), outcome=("success", "denied", "failed"), actor_role=("patient", "clinician", "billing_admin")
    ),
)
zero_series(AUDIT_WRITE_LATENCY_SECONDS, lambda: label_product(stage=("shard", "store"), shard_id=shards()))
for _gauge in (AUDIT_BUFFER_DEPTH, AUDIT_BUFFER_OLDEST_AGE_SECONDS, AUDIT_CHAIN_BROKEN):
    zero_series(_gauge, lambda: label_product(shard_id=shards()))
