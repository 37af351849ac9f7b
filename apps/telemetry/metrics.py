from prometheus_client import Histogram

HTTP_SERVER_DURATION_SECONDS = Histogram(
    "http_server_duration_seconds",
    "Duration of HTTP requests served by Django, by route template, method, status and persona.",
    ["route", "method", "status", "persona"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
