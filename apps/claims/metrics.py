from prometheus_client import Counter, Histogram

from apps.outbox.metrics import OUTBOX_DEAD_LETTERED_TOTAL
from apps.telemetry.metric_defaults import label_product, shards, zero_series

CLAIM_SUBMIT_LATENCY = Histogram(
    "claim_submit_latency",
    "Seconds spent by the billing orchestrator on one claim submission, by outcome and shard.",
    ["outcome", "shard_id", "actor_role"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CLAIM_GUARDRAIL_VIOLATIONS_TOTAL = Counter(
    "claim_guardrail_violations_total",
    "Claim submissions refused by a financial guardrail, by rule.",
    ["rule", "shard_id", "actor_role"],
)
CLAIM_RETENTION_ACTIONS_TOTAL = Counter(
    "claim_retention_actions_total",
    "Claims moved by the retention policy: archived into archive storage or purged from it.",
    ["action", "retention_class", "shard_id"],
)

# Series that exist before the first claim (apps/telemetry/metric_defaults.py).
zero_series(
    CLAIM_SUBMIT_LATENCY,
    lambda: label_product(
        outcome=("created", "replayed", "rejected", "guardrail_violation", "error"),
        shard_id=shards(),
        actor_role=("billing_admin",),
    ),
)
zero_series(
    OUTBOX_DEAD_LETTERED_TOTAL, lambda: label_product(shard_id=shards(), event_type=("ClaimSubmitted", "ClaimPaid"))
)
