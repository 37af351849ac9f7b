from prometheus_client import Counter, Histogram

from .metric_defaults import http_label_sets, zero_series

HTTP_SERVER_DURATION_SECONDS = Histogram(
    "http_server_duration_seconds",
    "Duration of HTTP requests served by Django, by route template, method, status and persona.",
    ["route", "method", "status", "persona"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

CELERY_TASK_RUNS_TOTAL = Counter(
    "celery_task_runs_total",
    "Celery task runs by task name and final state (SUCCESS, FAILURE, RETRY …).",
    ["task", "state"],
)
CELERY_TASK_DURATION_SECONDS = Histogram(
    "celery_task_duration_seconds",
    "Run time of Celery tasks by task name.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

zero_series(HTTP_SERVER_DURATION_SECONDS, http_label_sets)
