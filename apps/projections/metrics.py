from prometheus_client import Counter, Gauge, Histogram

from apps.telemetry.metric_defaults import label_product, zero_series

PROJECTION_WORKER_LAG_SECONDS = Gauge(
    "projection_worker_lag_seconds",
    "Now minus the commit time of the last event the projection worker applied.",
    ["projection"],
    multiprocess_mode="livemax",
)
PROJECTION_APPLY_LAG_SECONDS = Histogram(
    "projection_apply_lag_seconds",
    "Commit-to-applied delay of each event applied to the read models.",
    ["projection", "event_type"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
CLAIM_PROJECTION_STALENESS = Gauge(
    "claim_projection_staleness",
    "SLI: age in seconds of the oldest claim event not yet applied to the financial read models (0 when caught up).",
    multiprocess_mode="livemax",
)
PROJECTION_BACKLOG_EVENTS = Gauge(
    "projection_backlog_events",
    "Events waiting for the projection: delivered but unacknowledged plus not yet delivered.",
    ["projection", "stream"],
    multiprocess_mode="livemax",
)
PROJECTION_BACKLOG_ALERT = Gauge(
    "projection_backlog_alert",
    "1 while the projection backlog is past its alert threshold (seed FR-14.5), else 0.",
    ["projection"],
    multiprocess_mode="livemax",
)
PROJECTION_EVENTS_APPLIED_TOTAL = Counter(
    "projection_events_applied_total", "Events applied to the read models.", ["projection", "event_type"]
)
PROJECTION_EVENTS_DUPLICATE_TOTAL = Counter(
    "projection_events_duplicate_total",
    "Redelivered events skipped because their id was already applied.",
    ["projection"],
)
PROJECTION_DEAD_LETTERS_TOTAL = Counter(
    "projection_dead_letters_total",
    "Malformed events moved to the projection dead-letter stream.",
    ["projection", "event_type"],
)
PROJECTION_POISON_MESSAGES_TOTAL = Counter(
    "projection_poison_messages_total",
    "Entries delivered more than PIMLAB_PROJECTION_MAX_DELIVERIES times, moved to the dead-letter stream.",
    ["projection", "stream"],
)
PROJECTION_REDELIVERED_TOTAL = Counter(
    "projection_redelivered_total", "Pending entries claimed from a crashed or stalled consumer.", ["projection"]
)

# Series that exist before the first event (apps/telemetry/metric_defaults.py).
for _metric in (PROJECTION_WORKER_LAG_SECONDS, PROJECTION_BACKLOG_ALERT):
    zero_series(_metric, lambda: label_product(projection=("financial",)))
