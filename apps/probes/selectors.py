"""Reads of probe results."""

from __future__ import annotations

from .models import ProbeResult


def probe_results_recent(*, limit: int = 200) -> list[ProbeResult]:
    """The newest probe results, newest first (one query)."""
    return list(ProbeResult.objects.using("default").order_by("-started_at")[:limit])
