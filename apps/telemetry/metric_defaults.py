"""Metrics that exist before traffic: every known label set (routes, shards, scenarios, event types,
experiments) is created at zero when a process starts, so dashboards and alerts see 0 instead of no
data, and ``increase()`` counts the first events of a fresh counter too.

Each app declares its known label sets beside its metrics (``zero_series(METRIC, label_sets)`` in
``<app>/metrics.py``); ``zero_series_initialise`` imports every installed app's ``metrics`` module
(as the admin autodiscovers ``admin`` modules) and creates the series. Creating a labelled child
writes 0 without a timestamp, so it never overrides a value another process has set. A
``mostrecent`` gauge shows only timestamped values, so it is set to 0 only where no process has
written that series yet."""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Callable, Iterable
from importlib.util import find_spec

import structlog

logger = structlog.get_logger(__name__)

LabelSets = Callable[[], Iterable[dict[str, str]]]
_registered: list[tuple[object, LabelSets]] = []

# The seed's operations (URL name, method, success status, persona) and the answer a failed one
# gives, so availability SLOs have their bad series at zero too. The route label is the URL's
# template as the resolver reports it for a request (``resolver_match.route``).
SEED_OPERATIONS = (
    ("encounter-book", "POST", "202", "patient"),
    ("encounter-note", "GET", "200", "clinician"),
    ("encounter-note", "PATCH", "200", "clinician"),
    ("encounter-finish", "POST", "200", "clinician"),
    ("claim-submit", "POST", "202", "billing_admin"),
    ("dashboard-financial", "GET", "200", "billing_admin"),
)
FAILURE_STATUS = "503"


TIMESTAMPED_MODES = ("mostrecent", "livemostrecent")


def _mostrecent_series_written() -> set[tuple[str, tuple]] | None:
    """(name, labels) of the series some process has already written, in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in registry.collect()
        if family.type == "gauge"
        for sample in family.samples
    }


def zero_series(metric, label_sets: LabelSets) -> None:
    """Declare the known label sets of ``metric`` (evaluated when the process initialises)."""
    _registered.append((metric, label_sets))


def route_templates() -> dict[str, str]:
    """{URL name: full route template} of the project's URLconf."""
    from django.urls import URLPattern, URLResolver, get_resolver

    routes: dict[str, str] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                routes.setdefault(pattern.name, prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return routes


def http_label_sets() -> Iterable[dict[str, str]]:
    routes = route_templates()
    for name, method, status, persona in SEED_OPERATIONS:
        route = routes.get(name)
        if route is None:
            logger.warning("zero_series_unknown_url_name", url_name=name)
            continue
        for answer in (status, FAILURE_STATUS):
            yield {"route": route, "method": method, "status": answer, "persona": persona}


def zero_series_initialise(app_names: Iterable[str]) -> int:
    """Create every declared series at zero; returns how many. Never fails the process."""
    for app_name in app_names:
        if find_spec(f"{app_name}.metrics") is not None:
            importlib.import_module(f"{app_name}.metrics")
    written = _mostrecent_series_written()
    created = 0
    for metric, label_sets in _registered:
        timestamped = getattr(metric, "_multiprocess_mode", "") in TIMESTAMPED_MODES and written is not None
        try:
            for labels in label_sets():
                child = metric.labels(**labels)
                if timestamped and (metric._name, tuple(sorted(labels.items()))) not in written:
                    child.set(0)
                created += 1
        except Exception as exc:  # a label source (a manifest folder, settings) must not stop the process
            logger.warning("zero_series_failed", metric=getattr(metric, "_name", str(metric)), error=str(exc)[:300])
    return created


def shards() -> list[str]:
    from django.conf import settings

    return list(settings.SHARD_ALIASES)


def label_product(**dimensions: Iterable[str]) -> Iterable[dict[str, str]]:
    """Every combination of the given label values: label_product(shard_id=shards(), outcome=("ok", "error"))."""
    names = list(dimensions)
    for values in itertools.product(*(list(dimensions[name]) for name in names)):
        yield dict(zip(names, values, strict=True))
