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


class AlertState(models.TextChoices):
    OK = "ok", "OK"
    TICKET = "ticket", "Ticket"
    PAGE = "page", "Page"


class ServiceLevelObjective(models.Model):
    """An SLO loaded from its YAML spec (the spec under version control is the source of truth),
    with the alert state the evaluator last computed for it."""

    name = models.SlugField(max_length=63, unique=True)
    display_name = models.CharField(max_length=200)
    service = models.CharField(max_length=80, db_index=True)
    description = models.TextField(blank=True)
    objective = models.FloatField(help_text="Target ratio of good events, e.g. 0.999.")
    window_days = models.PositiveSmallIntegerField(help_text="Rolling window.")
    budgeting_method = models.CharField(max_length=12, default="Occurrences")
    min_events_per_window = models.PositiveIntegerField(
        default=0, help_text="Fewer events than this in a window never alert (low-traffic guard)."
    )
    runbook = models.CharField(max_length=200, blank=True)
    document = models.JSONField(help_text="The spec as loaded from YAML.")
    content_hash = models.CharField(max_length=64)
    source_file = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True, help_text="False once its spec file is gone.")
    loaded_at = models.DateTimeField(auto_now=True)

    alert_state = models.CharField(max_length=8, choices=AlertState.choices, default=AlertState.OK)
    page_firing_since = models.DateTimeField(null=True, blank=True)
    ticket_firing_since = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_status = models.JSONField(default=dict, blank=True, help_text="Figures of the last evaluation.")

    class Meta:
        ordering = ["service", "name"]
        verbose_name = "service level objective"

    def __str__(self) -> str:
        return f"{self.name} ({self.objective:.4%} over {self.window_days}d)"


class SliSample(models.Model):
    """One snapshot by the built-in sampler: cumulative good/bad event counts of one SLO.

    ``total_events``/``bad_events`` only ever grow (counter resets of the sampled processes are
    absorbed), so the events in a window are the difference of two samples. ``raw`` keeps the last
    raw counter readings per source to detect those resets.
    """

    slo = models.ForeignKey(ServiceLevelObjective, on_delete=models.CASCADE, related_name="samples")
    taken_at = models.DateTimeField()
    total_events = models.FloatField()
    bad_events = models.FloatField()
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["slo", "taken_at"]
        indexes = [models.Index(fields=["slo", "taken_at"], name="slo_sample_slo_time")]

    def __str__(self) -> str:
        return f"{self.slo_id} @ {self.taken_at:%Y-%m-%d %H:%M:%S}: {self.bad_events:g}/{self.total_events:g}"
