from prometheus_client import Counter, Histogram

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
