from __future__ import annotations

from django.db import models


class TimelineAnnotation(models.Model):
    """A marked moment or span on the SLO timeline (chaos drill start/injection/recovery/end, deploys)."""

    occurred_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=40, db_index=True, help_text="Who wrote it, e.g. chaos.")
    text = models.CharField(max_length=500)
    tags = models.JSONField(default=list, blank=True)
    reference = models.CharField(max_length=120, blank=True, help_text="e.g. the chaos run id.")

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.source}: {self.text}"


class AlertSeverity(models.TextChoices):
    PAGE = "page", "Page"
    TICKET = "ticket", "Ticket"
    CRITICAL = "critical", "Critical"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertEvent(models.Model):
    """An alert state change: SLO burn-rate page/ticket, chaos RTO breach, and the like."""

    name = models.CharField(max_length=120, db_index=True)
    severity = models.CharField(max_length=12, choices=AlertSeverity.choices)
    status = models.CharField(max_length=12, choices=AlertStatus.choices)
    occurred_at = models.DateTimeField(db_index=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.name} {self.severity} {self.status}"
