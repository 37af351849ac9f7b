from __future__ import annotations

from django.db import models

from apps.core.models import ShardedModel


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

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_type}:{self.resource_id} ({self.outcome})"
