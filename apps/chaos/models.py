"""Chaos experiments as governed manifests, their revisions (by content hash) and their runs.

All of it lives in the catalog database. An experiment is identified by its manifest's path in
the GitOps folder (or a name for manifests submitted through the API); every distinct content is a
revision that must be dry-run and approved on its own before it can run.
"""

from __future__ import annotations

from django.db import models


class Experiment(models.Model):
    key = models.CharField(
        max_length=200, unique=True, help_text="Manifest path under the GitOps folder, or api/<name> when submitted."
    )
    title = models.CharField(max_length=200)
    source = models.CharField(max_length=12, choices=[("gitops", "GitOps folder"), ("api", "API")], default="gitops")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def current_revision(self) -> ExperimentRevision | None:
        return self.revisions.order_by("-number").first()


class RevisionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    VALIDATED = "validated", "Validated (dry-run passed)"
    REJECTED = "rejected", "Rejected (dry-run failed)"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Superseded by a newer revision"
    RETIRED = "retired", "Retired (manifest removed from the GitOps folder)"


class ExperimentRevision(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, db_index=True, help_text="sha256 of the manifest text.")
    manifest_text = models.TextField()
    manifest = models.JSONField(default=dict, blank=True, help_text="Parsed manifest (empty when unparsable).")
    status = models.CharField(max_length=12, choices=RevisionStatus.choices, default=RevisionStatus.DRAFT)
    author = models.CharField(
        max_length=150,
        help_text="Who changed it: the submitting SRE (API), the commit author (GitOps checkout), or the reconciler.",
    )
    dry_run_report = models.JSONField(default=dict, blank=True)
    dry_run_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approvals = models.JSONField(default=list, blank=True, help_text="[{by, at}] of each distinct SRE approval.")
    approvals_required = models.PositiveSmallIntegerField(
        default=1, help_text="2 when the author is the reconciler (no identity changed the file)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["experiment", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "number"], name="chaos_revision_number_once"),
            models.UniqueConstraint(fields=["experiment", "content_hash"], name="chaos_revision_content_once"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment.key} r{self.number} ({self.status})"


WORKER_LOST = "aborted (worker lost)"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    ABORTED = "aborted", "Aborted"
    FAILED = "failed", "Failed"
    CLOSED = "closed", "Closed"


class ExperimentRun(models.Model):
    revision = models.ForeignKey(ExperimentRevision, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True)
    outcome = models.CharField(
        max_length=32,
        blank=True,
        help_text="completed/aborted/failed/aborted (worker lost); kept when the run is closed.",
    )
    deviated = models.BooleanField(default=False, help_text="The steady-state hypothesis did not hold after the run.")
    launched_by = models.CharField(max_length=150)
    request_id = models.CharField(max_length=64, blank=True)
    abort_requested = models.BooleanField(default=False)
    abort_reason = models.CharField(max_length=300, blank=True)
    journal = models.JSONField(default=dict, blank=True, help_text="Chaos Toolkit-style journal.")
    state = models.JSONField(
        default=dict, blank=True, help_text="What the activities saved for their rollbacks (read by the reaper)."
    )
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Last sign of life of the worker executing the run."
    )
    summary = models.JSONField(default=dict, blank=True, help_text="RTO, RPO, error ratio, budget consumed.")
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=150, blank=True)
    close_adr_ref = models.CharField(max_length=300, blank=True)
    close_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.revision} ({self.status})"

    @property
    def experiment_key(self) -> str:
        return self.revision.experiment.key


class ChaosSwitch(models.Model):
    """The global kill switch (one row). Engaged: running drills abort and no launch is accepted."""

    engaged = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    changed_by = models.CharField(max_length=150, blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "chaos kill switch"
        verbose_name_plural = "chaos kill switch"

    def __str__(self) -> str:
        return "engaged" if self.engaged else "released"
