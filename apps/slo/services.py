from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from .models import AlertEvent, TimelineAnnotation


def timeline_annotation_record(
    *,
    source: str,
    text: str,
    tags: list[str] | None = None,
    reference: str = "",
    occurred_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> TimelineAnnotation:
    return TimelineAnnotation.objects.create(
        occurred_at=occurred_at or timezone.now(),
        ended_at=ended_at,
        source=source,
        text=text,
        tags=tags or [],
        reference=reference,
    )


def alert_event_record(
    *,
    name: str,
    severity: str,
    status: str,
    labels: dict | None = None,
    annotations: dict | None = None,
    occurred_at: datetime | None = None,
) -> AlertEvent:
    """Record an alert state change. Delivery to the webhook (Alertmanager format) is the slo app's job."""
    return AlertEvent.objects.create(
        name=name,
        severity=severity,
        status=status,
        labels=labels or {},
        annotations=annotations or {},
        occurred_at=occurred_at or timezone.now(),
    )
