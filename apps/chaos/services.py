"""Write use cases of the chaos controller. All of them live in the catalog database."""

from __future__ import annotations

from pathlib import Path

import structlog
from django.db import transaction
from django.utils import timezone

from . import manifests, validator
from .models import (
    ChaosSwitch,
    Experiment,
    ExperimentRevision,
    ExperimentRun,
    RevisionStatus,
    RunStatus,
)

logger = structlog.get_logger("apps.chaos.controller")

CATALOG = "default"


class ChaosRuleViolation(Exception):
    """A governance rule refused the operation; the message says what to do instead."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def experiment_submit(*, key: str, manifest_text: str, author: str, source: str = "api") -> ExperimentRevision:
    """Record a manifest; new content becomes a new draft revision and supersedes the older ones."""
    digest = manifests.content_hash(manifest_text)
    manifest, errors = manifests.parse(manifest_text)
    with transaction.atomic(using=CATALOG):
        experiment, _ = Experiment.objects.select_for_update().get_or_create(
            key=key, defaults={"title": str(manifest.get("title") or key)[:200], "source": source}
        )
        existing = experiment.revisions.filter(content_hash=digest).first()
        if existing is not None:
            return existing
        last = experiment.revisions.order_by("-number").first()
        experiment.revisions.exclude(status=RevisionStatus.SUPERSEDED).update(status=RevisionStatus.SUPERSEDED)
        revision = ExperimentRevision.objects.create(
            experiment=experiment,
            number=(last.number + 1) if last else 1,
            content_hash=digest,
            manifest_text=manifest_text,
            manifest=manifest if not errors else {},
            author=author,
        )
        if manifest.get("title"):
            experiment.title = str(manifest["title"])[:200]
            experiment.save(update_fields=["title", "updated_at"])
    logger.info("chaos_revision_submitted", experiment=key, revision=revision.number, content_hash=digest[:12])
    return revision


def revision_dry_run(*, revision: ExperimentRevision) -> dict:
    report = validator.dry_run(revision.manifest_text, experiment_id=revision.experiment_id).as_dict()
    with transaction.atomic(using=CATALOG):
        revision = ExperimentRevision.objects.select_for_update().get(pk=revision.pk)
        revision.dry_run_report = report
        revision.dry_run_at = timezone.now()
        if revision.status != RevisionStatus.SUPERSEDED:
            if not report["ok"]:
                revision.status = RevisionStatus.REJECTED
                revision.approved_by, revision.approved_at = "", None
            elif revision.status in {RevisionStatus.DRAFT, RevisionStatus.REJECTED}:
                revision.status = RevisionStatus.VALIDATED
        revision.save()
    logger.info("chaos_dry_run", experiment=revision.experiment.key, revision=revision.number, ok=report["ok"])
    return report


def revision_approve(*, revision: ExperimentRevision, approver: str) -> ExperimentRevision:
    with transaction.atomic(using=CATALOG):
        revision = ExperimentRevision.objects.select_for_update().get(pk=revision.pk)
        if revision.status != RevisionStatus.VALIDATED:
            raise ChaosRuleViolation(
                f"Revision {revision.number} is {revision.status}; only a validated revision (dry-run passed) "
                "can be approved.",
                code="not_validated",
            )
        if approver == revision.author:
            raise ChaosRuleViolation(
                "The author of a revision cannot approve it; ask another SRE (four-eyes rule, ADR-012).",
                code="author_cannot_approve",
            )
        revision.status = RevisionStatus.APPROVED
        revision.approved_by, revision.approved_at = approver, timezone.now()
        revision.save()
    logger.info("chaos_revision_approved", experiment=revision.experiment.key, revision=revision.number)
    return revision


def run_launch(*, revision: ExperimentRevision, launched_by: str, request_id: str = "") -> ExperimentRun:
    """Create a run of an approved revision after a fresh dry-run; the caller executes it (task/command)."""
    revision = ExperimentRevision.objects.select_related("experiment").get(pk=revision.pk)  # the stored status
    if ChaosSwitch.objects.filter(engaged=True).exists():
        raise ChaosRuleViolation("The chaos kill switch is engaged; release it before launching.", code="kill_switch")
    if revision.status != RevisionStatus.APPROVED:
        raise ChaosRuleViolation(
            f"Revision {revision.number} is {revision.status}; it must be validated and approved by another SRE.",
            code="not_approved",
        )
    with transaction.atomic(using=CATALOG):
        # One launch at a time per experiment: the row lock serialises the conflict check.
        Experiment.objects.select_for_update().get(pk=revision.experiment_id)
        report = validator.dry_run(revision.manifest_text, experiment_id=revision.experiment_id)
        if not report.ok:
            failed = [c for c in report.as_dict()["checks"] if not c["ok"]]
            raise ChaosRuleViolation(
                "The dry-run fails now, so the run is blocked: "
                + "; ".join(f"{c['check']}: {' '.join(c['errors'])}" for c in failed),
                code="dry_run_failed",
            )
        run = ExperimentRun.objects.create(
            revision=revision, launched_by=launched_by, request_id=request_id, status=RunStatus.RUNNING
        )
    logger.info("chaos_run_launched", experiment=revision.experiment.key, run_id=run.pk)
    return run


def run_abort(*, run: ExperimentRun, requested_by: str, reason: str = "") -> ExperimentRun:
    updated = ExperimentRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        abort_requested=True, abort_reason=(reason or f"aborted by {requested_by}")[:300]
    )
    if not updated:
        raise ChaosRuleViolation(f"Run {run.pk} is {run.status}, not running.", code="not_running")
    logger.warning("chaos_run_abort_requested", run_id=run.pk, requested_by=requested_by)
    run.refresh_from_db()
    return run


def run_close(*, run: ExperimentRun, closed_by: str, adr_ref: str, notes: str = "") -> ExperimentRun:
    if run.status not in {RunStatus.COMPLETED, RunStatus.ABORTED, RunStatus.FAILED}:
        raise ChaosRuleViolation(
            f"Run {run.pk} is {run.status}; only a finished run can be closed.", code="not_finished"
        )
    report = validator.DryRunReport()
    validator.check_adr(adr_ref, report)
    if not report.ok:
        raise ChaosRuleViolation(" ".join(report.checks["adr"]), code="adr_unresolvable")
    run.status = RunStatus.CLOSED
    run.closed_by, run.closed_at, run.close_adr_ref, run.close_notes = closed_by, timezone.now(), adr_ref, notes
    run.save()
    return run


def kill_switch_set(*, engaged: bool, changed_by: str, reason: str = "") -> ChaosSwitch:
    with transaction.atomic(using=CATALOG):
        switch, _ = ChaosSwitch.objects.select_for_update().get_or_create(pk=1)
        switch.engaged, switch.changed_by, switch.reason = engaged, changed_by, reason[:300]
        switch.save()
        if engaged:
            ExperimentRun.objects.filter(status=RunStatus.RUNNING).update(
                abort_requested=True, abort_reason=f"kill switch: {reason or changed_by}"[:300]
            )
    logger.warning("chaos_kill_switch", engaged=engaged, changed_by=changed_by)
    return switch


def experiments_reconcile(*, root: Path | None = None) -> dict:
    """Sync the GitOps folder: each new or changed manifest becomes a revision and is dry-run."""
    root = root or manifests.experiments_dir()
    created, unchanged = [], []
    for key, text in manifests.manifest_files(root):
        manifest, _ = manifests.parse(text)
        before = ExperimentRevision.objects.filter(experiment__key=key, content_hash=manifests.content_hash(text))
        if before.exists():
            unchanged.append(key)
            continue
        revision = experiment_submit(
            key=key, manifest_text=text, author=str(manifest.get("owner") or "gitops"), source="gitops"
        )
        revision_dry_run(revision=revision)
        created.append({"key": key, "revision": revision.number})
    logger.info("chaos_reconcile", root=str(root), created=len(created), unchanged=len(unchanged))
    return {"root": str(root), "created": created, "unchanged": unchanged}


def scheduled_runs_launch(*, now=None) -> list[ExperimentRun]:
    """Launch each approved revision whose cron schedule is due; never two runs of one experiment at once."""
    from celery.schedules import crontab

    now = now or timezone.now()
    launched = []
    for revision in ExperimentRevision.objects.filter(status=RevisionStatus.APPROVED).select_related("experiment"):
        schedule = (revision.manifest or {}).get("schedule")
        if not schedule:
            continue
        if ExperimentRun.objects.filter(revision__experiment=revision.experiment, status=RunStatus.RUNNING).exists():
            continue
        last = revision.runs.order_by("-started_at").first()
        last_at = last.started_at if last else revision.approved_at or revision.created_at
        cron = crontab(*schedule.split(), nowfun=lambda: now)
        due, _ = cron.is_due(last_at)
        if not due:
            continue
        try:
            launched.append(run_launch(revision=revision, launched_by=f"schedule:{revision.approved_by}"))
        except ChaosRuleViolation as exc:
            logger.warning("chaos_scheduled_launch_refused", experiment=revision.experiment.key, reason=str(exc))
    return launched
