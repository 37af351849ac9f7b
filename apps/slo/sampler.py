"""The built-in SLI sampler, for when no Prometheus is configured (the embedded profile).

Periodically (a beat task, never per request) it reads the prometheus_client counters and histograms
an SLO's queries name, either from this process's registry or by scraping the ``/metrics`` URLs in
``PIMLAB_SLO_SCRAPE_URLS`` (one per web process), and turns them into cumulative event counts that
``SampledEventSource`` differences over any window.
"""

from __future__ import annotations

import bisect
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
import structlog
from django.conf import settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from .engine import EventCounts
from .models import SliSample
from .specs import RatioIndicator, SloDefinition, ThresholdIndicator

Sample = tuple[str, dict[str, str], float]
SOURCE_MEMORY_SECONDS = 86400
logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SourceSnapshot:
    """Every sample one process exposed at one instant, keyed by where it came from."""

    source: str
    samples: list[Sample]


def metric_names_of(definitions: list[SloDefinition]) -> set[str]:
    names: set[str] = set()
    for definition in definitions:
        indicator = definition.indicator
        if isinstance(indicator, RatioIndicator):
            names.update(s.metric for s in indicator.selectors())
        else:
            names.add(indicator.query.selector.metric)
    return names


def snapshots_read(definitions: list[SloDefinition]) -> list[SourceSnapshot]:
    urls = list(settings.PIMLAB_SLO_SCRAPE_URLS)
    names = metric_names_of(definitions)
    if not urls:
        return [local_registry_snapshot(names)]
    snapshots = []
    for url in urls:
        try:
            snapshots.append(scraped_snapshot(url, names))
        except (requests.RequestException, ValueError) as exc:
            # Its counters keep counting; the next successful scrape catches up on them.
            logger.warning("slo_scrape_failed", url=url, error=str(exc)[:300])
    return snapshots


def local_registry_snapshot(names: set[str]) -> SourceSnapshot:
    # A restricted registry only calls the collectors that own these names, so collectors that
    # read the database on scrape are left alone.
    samples = [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in REGISTRY.restricted_registry(sorted(names)).collect()
        for sample in family.samples
        if sample.name in names
    ]
    return SourceSnapshot(source=f"local:{socket.gethostname()}:{os.getpid()}", samples=samples)


def scraped_snapshot(url: str, names: set[str]) -> SourceSnapshot:
    """One scrape. Behind one URL several processes may answer in turn (web server workers): the
    process start time keeps their counters apart, so none looks like a reset of another."""
    response = requests.get(url, timeout=5, headers={"Accept": "text/plain"})
    response.raise_for_status()
    samples, started = [], ""
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in names:
                samples.append((sample.name, dict(sample.labels), float(sample.value)))
            elif sample.name == "process_start_time_seconds":
                started = f"{sample.value:.2f}"
    return SourceSnapshot(source=f"{url}#{started}" if started else url, samples=samples)


def ratio_readings(indicator: RatioIndicator, samples: list[Sample]) -> tuple[float, float]:
    """(total, bad-or-good) raw counter sums over the matching series of one source."""
    total = sum(v for name, labels, v in samples if indicator.total.matches(name, labels))
    other = indicator.bad or indicator.good
    assert other is not None
    return total, sum(v for name, labels, v in samples if other.matches(name, labels))


def next_cumulative(
    definition: SloDefinition, snapshots: list[SourceSnapshot], previous: SliSample | None, *, at: datetime
) -> tuple[float, float, dict] | None:
    """The next (total, bad, raw) cumulative reading of an SLO, or None when there is nothing to record."""
    indicator = definition.indicator
    total = previous.total_events if previous else 0.0
    bad = previous.bad_events if previous else 0.0
    if isinstance(indicator, ThresholdIndicator):
        values = [
            v
            for snapshot in snapshots
            for name, labels, v in snapshot.samples
            if indicator.query.selector.matches(name, labels)
        ]
        value = indicator.query.reduce(values)
        if value is None:
            return None
        return total + 1, bad + (0 if indicator.is_good(value) else 1), {"value": value}
    if not snapshots:
        return None  # nothing could be read: record nothing rather than a gap that looks like zero
    now = at.timestamp()
    previous_raw = {
        source: reading
        for source, reading in (previous.raw if previous else {}).items()
        if isinstance(reading, list) and len(reading) == 3
    }
    # Sources not read this round keep their last reading (for a day) to be caught up later.
    raw: dict[str, list[float]] = {
        source: reading for source, reading in previous_raw.items() if now - reading[2] < SOURCE_MEMORY_SECONDS
    }
    for snapshot in snapshots:
        current_total, current_other = ratio_readings(indicator, snapshot.samples)
        raw[snapshot.source] = [current_total, current_other, now]
        before = previous_raw.get(snapshot.source)
        if previous is None or not previous_raw:
            continue  # the very first reading is the baseline
        if before is None or current_total < before[0] or current_other < before[1]:
            # A new or restarted process: everything it counted happened since it started.
            delta_total, delta_other = current_total, current_other
        else:
            delta_total, delta_other = current_total - before[0], current_other - before[1]
        delta_bad = delta_other if indicator.bad is not None else max(delta_total - delta_other, 0.0)
        total += delta_total
        bad += delta_bad
    return total, bad, raw


class SampledEventSource:
    """Event counts from the sampler's stored snapshots: the difference of the last sample at or
    before the window's end and the last one at or before its start (or the first inside it)."""

    kind = "sampler"

    def __init__(self) -> None:
        self._preloaded: dict[str, tuple[list[datetime], list[float], list[float]]] = {}
        self._ranges: dict[str, tuple[datetime, datetime]] = {}

    def preload(
        self, definition: SloDefinition, *, start: datetime, end: datetime, lookback: timedelta | None = None
    ) -> None:
        """Load the samples a series over ``[start, end]`` needs once, instead of two queries a point.
        ``lookback``: the longest window that will be counted (default: the SLO period)."""
        lookback = lookback if lookback is not None else timedelta(days=definition.window_days)
        first, last = start - lookback - timedelta(hours=1), end
        loaded = self._ranges.get(definition.name)
        if loaded is not None:
            if loaded[0] <= first and last <= loaded[1]:
                return  # a page's second series over the same samples reads them once
            first, last = min(first, loaded[0]), max(last, loaded[1])
        self._ranges[definition.name] = (first, last)
        rows = list(
            SliSample.objects.filter(
                slo__name=definition.name,
                taken_at__gte=first,
                taken_at__lte=last,
            )
            .order_by("taken_at")
            .values_list("taken_at", "total_events", "bad_events")
        )
        self._preloaded[definition.name] = ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def preload_many(
        self,
        definitions: list[SloDefinition],
        *,
        start: datetime,
        end: datetime,
        lookback: timedelta | None = None,
    ) -> None:
        """``preload`` for several SLOs in one query (the status list of every SLO). ``lookback``: the
        longest window that will be counted (default: the longest SLO period)."""
        if not definitions:
            return
        lookback = lookback or timedelta(days=max(d.window_days for d in definitions))
        rows = (
            SliSample.objects.filter(
                slo__name__in=[d.name for d in definitions],
                taken_at__gte=start - lookback - timedelta(hours=1),
                taken_at__lte=end,
            )
            .order_by("taken_at")
            .values_list("slo__name", "taken_at", "total_events", "bad_events")
        )
        loaded: dict[str, tuple[list[datetime], list[float], list[float]]] = {d.name: ([], [], []) for d in definitions}
        for name, taken_at, total, bad in rows:
            times, totals, bads = loaded[name]
            times.append(taken_at)
            totals.append(total)
            bads.append(bad)
        self._preloaded.update(loaded)
        for definition in definitions:
            self._ranges[definition.name] = (start - lookback - timedelta(hours=1), end)

    def counts(self, definition: SloDefinition, *, window: timedelta, at: datetime) -> EventCounts:
        start = at - window
        if definition.name in self._preloaded:
            times, totals, bads = self._preloaded[definition.name]
            end_index = bisect.bisect_right(times, at) - 1
            if end_index < 0:
                return EventCounts()
            start_index = bisect.bisect_right(times, start) - 1
            if start_index < 0:
                start_index = bisect.bisect_left(times, start)
            if start_index >= end_index:
                return EventCounts()
            return EventCounts(total=totals[end_index] - totals[start_index], bad=bads[end_index] - bads[start_index])
        samples = SliSample.objects.filter(slo__name=definition.name).order_by("-taken_at")
        end_sample = samples.filter(taken_at__lte=at).values_list("taken_at", "total_events", "bad_events").first()
        if end_sample is None:
            return EventCounts()
        start_sample = (
            samples.filter(taken_at__lte=start).values_list("taken_at", "total_events", "bad_events").first()
            or samples.filter(taken_at__gte=start)
            .order_by("taken_at")
            .values_list("taken_at", "total_events", "bad_events")
            .first()
        )
        if start_sample is None or start_sample[0] >= end_sample[0]:
            return EventCounts()
        return EventCounts(total=end_sample[1] - start_sample[1], bad=end_sample[2] - start_sample[2])
