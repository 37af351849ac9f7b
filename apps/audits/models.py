from __future__ import annotations

from django.db import models

from apps.core.models import Placement, ShardedModel


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    GUARDRAIL_VIOLATION = "guardrail_violation", "Guardrail violation"
    FAILED = "failed", "Failed"


class AuditEvent(ShardedModel):
    """AUDIT_EVENT: written on the patient's shard in the same transaction as the change it records.

    ``patient_id`` supplies the bucket, so the event always lands on the patient's shard.
    """

    shard_key_field = "patient"

    patient_id = models.BigIntegerField(db_index=True)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    outcome = models.CharField(max_length=24, choices=AuditOutcome.choices, default=AuditOutcome.SUCCESS)
    resource_type = models.CharField(max_length=60)
    resource_id = models.CharField(max_length=40, blank=True)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_role = models.CharField(max_length=24, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Position of this event in its shard's chain in the audit store, set when shipped.
    chain_sequence = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            # The shipper's queue: unshipped events in order.
            models.Index(
                fields=["occurred_at", "id"],
                name="audit_event_unshipped",
                condition=models.Q(shipped_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_type}:{self.resource_id} ({self.outcome})"


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change or remove an audit-store row."""


class AuditRecordQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyViolation("The audit store is append-only: audit records cannot be updated.")

    def delete(self):
        raise AppendOnlyViolation("The audit store is append-only: audit records cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyViolation("The audit store is append-only: audit records cannot be updated.")


class AuditRecord(models.Model):
    """One link of a per-shard hash chain in the audit store (its own database, append-only).

    The shipper is the single writer of each chain: it copies committed AUDIT_EVENT rows from a
    shard in order, numbering them 1, 2, 3… and storing, in each link, the hash of its
    predecessor (``prev_hash``) and its own keyed hash over every field (``chain_hash``).
    """

    pimlab_placement = Placement.AUDIT

    shard_alias = models.CharField(max_length=64, db_index=True)
    sequence = models.PositiveBigIntegerField()
    source_event_id = models.BigIntegerField()
    patient_id = models.BigIntegerField(db_index=True)
    occurred_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    outcome = models.CharField(max_length=24, choices=AuditOutcome.choices)
    resource_type = models.CharField(max_length=60)
    resource_id = models.CharField(max_length=40, blank=True)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_role = models.CharField(max_length=24, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # Id of the chain key that signed this link (PIMLAB_AUDIT_CHAIN_KEYS); covered by the hash.
    key_id = models.CharField(max_length=32, blank=True, default="", db_default="")
    prev_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    stored_at = models.DateTimeField(auto_now_add=True)

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ["shard_alias", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["shard_alias", "sequence"], name="audit_record_one_link_per_position"),
            models.UniqueConstraint(fields=["shard_alias", "source_event_id"], name="audit_record_event_shipped_once"),
        ]

    def __str__(self) -> str:
        return f"{self.shard_alias} #{self.sequence}: {self.action} ({self.outcome})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation("The audit store is append-only: audit records cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation("The audit store is append-only: audit records cannot be deleted.")


class AuditChainHead(models.Model):
    """The tip of one shard's chain. Locking this row makes the shipper the chain's single writer."""

    pimlab_placement = Placement.AUDIT

    shard_alias = models.CharField(max_length=64, unique=True)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shard_alias"]

    def __str__(self) -> str:
        return f"{self.shard_alias} @ {self.last_sequence}"
