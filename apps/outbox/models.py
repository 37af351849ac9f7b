from __future__ import annotations

from django.db import models

from apps.core.models import ShardedModel


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PUBLISHED = "published", "Published"
    DEAD = "dead", "Dead letter"
    # An operator gave up on a dead letter: it stays for the record and no longer holds back its aggregate.
    DISCARDED = "discarded", "Discarded"


class OutboxEvent(ShardedModel):
    """An event to publish, committed in the same shard transaction as the change that caused it.

    ``aggregate_id`` (the patient id) supplies the bucket and orders events per aggregate.
    """

    shard_key_field = "aggregate_id"

    aggregate_type = models.CharField(max_length=60)
    # Indexed by outbox_aggregate_type_idx (aggregate id, event type).
    aggregate_id = models.BigIntegerField()
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
        indexes = [
            models.Index(fields=["status", "next_attempt_at", "id"], name="outbox_due_idx"),
            # A patient's events of one type (the booking event of each visit on "My visits"): one
            # index range, however many events other patients have.
            models.Index(fields=["aggregate_id", "event_type"], name="outbox_aggregate_type_idx"),
            # The relay walks pending rows in id order and stops after a batch: no sort of the backlog.
            models.Index(fields=["id"], condition=models.Q(status="pending"), name="outbox_pending_order_idx"),
            # The relay holds back an aggregate while one of its events waits for a retry; only those
            # few rows are in this index, so the check stays cheap however long the history grows.
            models.Index(
                fields=["aggregate_id", "id"],
                condition=models.Q(status="pending", next_attempt_at__isnull=False),
                name="outbox_waiting_retry_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id} ({self.status})"


# --- Server-less event bus (embedded profile), in the catalog ------------------------------------


class EventStreamEntry(models.Model):
    """One message on a stream of the database event bus; the auto-increment id orders a stream."""

    id = models.BigAutoField(primary_key=True)
    stream = models.CharField(max_length=150)
    event_id = models.CharField(max_length=40, db_index=True)
    event = models.JSONField()
    appended_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "event stream entry"
        verbose_name_plural = "event stream entries"
        indexes = [models.Index(fields=["stream", "id"], name="bus_stream_order_idx")]

    def __str__(self) -> str:
        return f"{self.stream} #{self.id}"


class EventConsumerGroup(models.Model):
    """A consumer group on a stream and the last entry handed to any of its consumers."""

    stream = models.CharField(max_length=150)
    group = models.CharField(max_length=100)
    last_delivered_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stream", "group"]
        constraints = [models.UniqueConstraint(fields=["stream", "group"], name="bus_group_once_per_stream")]

    def __str__(self) -> str:
        return f"{self.group} on {self.stream}"


class EventPendingEntry(models.Model):
    """An entry delivered to a consumer and not yet acknowledged (Redis's pending entries list)."""

    group = models.ForeignKey(EventConsumerGroup, on_delete=models.CASCADE, related_name="pending")
    entry = models.ForeignKey(EventStreamEntry, on_delete=models.CASCADE, related_name="+")
    consumer = models.CharField(max_length=100)
    delivery_count = models.PositiveIntegerField(default=1)
    delivered_at = models.DateTimeField()

    class Meta:
        ordering = ["entry_id"]
        verbose_name_plural = "event pending entries"
        constraints = [models.UniqueConstraint(fields=["group", "entry"], name="bus_pending_once_per_group")]
        indexes = [models.Index(fields=["group", "delivered_at"], name="bus_pending_idle_idx")]

    def __str__(self) -> str:
        return f"entry {self.entry_id} → {self.consumer} ({self.delivery_count}×)"
