from __future__ import annotations

from django.db import models

from apps.core.models import ShardedModel


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PUBLISHED = "published", "Published"
    DEAD = "dead", "Dead letter"


class OutboxEvent(ShardedModel):
    """An event to publish, committed in the same shard transaction as the change that caused it.

    ``aggregate_id`` (the patient id) supplies the bucket and orders events per aggregate.
    """

    shard_key_field = "aggregate_id"

    aggregate_type = models.CharField(max_length=60)
    aggregate_id = models.BigIntegerField(db_index=True)
    event_type = models.CharField(max_length=80, db_index=True)
    payload = models.JSONField()
    # W3C trace context and correlation ids of the request that recorded the event.
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at", "id"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id} ({self.status})"
