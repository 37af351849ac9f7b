"""Synthetic probes: the personas they act as, and one row per probe run (both in the catalog)."""

from __future__ import annotations

from django.db import models


class ProbeScenario(models.TextChoices):
    ENCOUNTER_BOOKING = "encounter_booking", "Patient Books Encounter"
    CLINICAL_DOCUMENTATION = "clinical_documentation", "Clinician Documents Encounter"
    CLAIM_SUBMISSION = "claim_submission", "Billing Submits Claim"


# The fourth scenario is probed on the chaos path (a failover manifest's dry run and steady state),
# not through the HTTP API: it is a scenario of the results, not of the HTTP replay.
CHAOS_FAILOVER = "chaos_failover"
RESULT_SCENARIO_CHOICES = [*ProbeScenario.choices, (CHAOS_FAILOVER, "Chaos-Induced Failover")]


class ProbeOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    SKIPPED = "skipped", "Skipped (chaos experiment covers the target)"


class ProbeTarget(models.Model):
    """The synthetic patient a shard's probes act on, with its patient persona.

    One row per shard; ``probe_setup`` creates it idempotently. The clinician and billing personas
    are shared by all shards (their usernames are fixed, see ``apps.probes.personas``)."""

    shard_alias = models.CharField(max_length=64, unique=True)
    patient_id = models.BigIntegerField(unique=True)
    patient_user_id = models.BigIntegerField(help_text="User id of the synthetic patient persona.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shard_alias"]

    def __str__(self) -> str:
        return f"probe target on {self.shard_alias}"


class ProbeResult(models.Model):
    scenario = models.CharField(max_length=40, choices=RESULT_SCENARIO_CHOICES, db_index=True)
    shard_alias = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=10, choices=ProbeOutcome.choices, db_index=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    duration_seconds = models.FloatField()
    step_latencies = models.JSONField(
        default=dict, blank=True, help_text="Seconds per step, in the order the steps ran."
    )
    failed_step = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True, help_text="Why the probe failed (no PHI: status codes and problem titles).")
    skip_reason = models.CharField(max_length=300, blank=True)
    chaos_run_id = models.BigIntegerField(null=True, blank=True, help_text="The chaos run that made the probe skip.")
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    base_url = models.CharField(max_length=200)
    resource_ids = models.JSONField(default=dict, blank=True, help_text="Encounter and claim ids the probe created.")
    telemetry_missing = models.JSONField(
        default=list,
        blank=True,
        help_text="Spans, log fields and metric increments the run should have left and did not.",
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.scenario} on {self.shard_alias}: {self.outcome}"
