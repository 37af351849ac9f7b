from prometheus_client import Counter, Gauge

SHARD_MAP_FALLBACK_TOTAL = Counter(
    "shard_map_fallback_total",
    "Shard resolutions served from the last known map because the current map was stale or missing an entry.",
    ["reason"],
)
SHARD_MAP_AGE_SECONDS = Gauge(
    "shard_map_age_seconds",
    "Seconds since the resolver last loaded the shard map from the catalog.",
    # Under gunicorn's multiprocess metrics, report the latest value of any worker.
    multiprocess_mode="mostrecent",
)
