"""Write use cases of the chaos controller. All of them live in the catalog database.

Four-eyes with real identities (ADR-012): the author of an API revision is the submitting user;
the author of a GitOps revision is the commit author of the file when the folder is a git
checkout, otherwise the reconciler, and such a revision needs two distinct SRE approvals. Nobody
approves their own revision; the manifest's ``owner`` is documentation, never an identity.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import structlog
from celery import current_app
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import dry_run, manifests
from .errors import ApprovalRefused, ChaosRuleViolation, ManifestUnparseable
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
GITOPS_RECONCILER = "gitops-reconciler"
RUN_EXECUTE_TASK = "chaos.run_execute"

__all__ = ["ApprovalRefused", "ChaosRuleViolation", "ManifestUnparseable"]


def experiment_submit(
    *,
    key: str,
    manifest_text: str,
    author: str,
    source: str = "api",
    approvals_required: int = 1,
    accept_unparseable: bool = False,
) -> ExperimentRevision:
    """Record a manifest; new content becomes a new draft revision.

    Older revisions are superseded at once, except an approved revision by another SRE: it stays
    launchable until the new revision is approved (superseding someone's approved drill needs
    approval). Unparseable YAML is refused with its line and column unless ``accept_unparseable``
    (the GitOps folder records it, and its dry-run rejects it)."""
    digest = manifests.content_hash(manifest_text)
    manifest, errors = manifests.parse(manifest_text)
    if errors and not accept_unparseable:
        error = manifests.parse_error(manifest_text)
        raise ManifestUnparseable(errors[0], line=error.line if error else None, column=error.column if error else None)
    with transaction.atomic(using=CATALOG):
        experiment, _ = Experiment.objects.select_for_update().get_or_create(
            key=key, defaults={"title": str(manifest.get("title") or key)[:200], "source": source}
        )
        existing = experiment.revisions.filter(content_hash=digest).first()
        if existing is not None and existing.status != RevisionStatus.RETIRED:
            return existing
        if existing is not None:  # a removed manifest put back: a fresh revision, approved afresh
            existing.content_hash = f"retired:{existing.pk}:{digest}"[:64]
            existing.save(update_fields=["content_hash"])
        last = experiment.revisions.order_by("-number").first()
        older = experiment.revisions.exclude(status__in=[RevisionStatus.SUPERSEDED, RevisionStatus.RETIRED])
        if source == "api":
            older = older.exclude(status=RevisionStatus.APPROVED, author__in=_others(author, experiment))
        older.update(status=RevisionStatus.SUPERSEDED)
        revision = ExperimentRevision.objects.create(
            experiment=experiment,
            number=(last.number + 1) if last else 1,
            content_hash=digest,
            manifest_text=manifest_text,
            manifest=manifest if not errors else {},
            author=author,
            approvals_required=approvals_required,
        )
        if manifest.get("title"):
            experiment.title = str(manifest["title"])[:200]
            experiment.save(update_fields=["title", "updated_at"])
    logger.info("chaos_revision_submitted", experiment=key, revision=revision.number, content_hash=digest[:12])
    return revision


def _others(author: str, experiment: Experiment) -> list[str]:
    return list(experiment.revisions.exclude(author=author).values_list("author", flat=True).distinct())


def revision_dry_run(*, revision: ExperimentRevision) -> dict:
    """Dry-run and record the report. An approved revision keeps its approval (launch dry-runs it
    again), so a dry-run by anyone cannot un-approve another SRE's drill."""
    report = dry_run.dry_run(revision.manifest_text, experiment_id=revision.experiment_id).as_dict()
    with transaction.atomic(using=CATALOG):
        revision = ExperimentRevision.objects.select_for_update().get(pk=revision.pk)
        revision.dry_run_report = report
        revision.dry_run_at = timezone.now()
        if revision.status in {RevisionStatus.DRAFT, RevisionStatus.REJECTED, RevisionStatus.VALIDATED}:
            if not report["ok"]:
                revision.status = RevisionStatus.REJECTED
                revision.approved_by, revision.approved_at, revision.approvals = "", None, []
            elif revision.status != RevisionStatus.VALIDATED:
                revision.status = RevisionStatus.VALIDATED
        revision.save()
    logger.info("chaos_dry_run", experiment=revision.experiment.key, revision=revision.number, ok=report["ok"])
    return report


def revision_approve(*, revision: ExperimentRevision, approver: str) -> ExperimentRevision:
    """One SRE approval; the revision is approved once it has ``approvals_required`` distinct ones."""
    with transaction.atomic(using=CATALOG):
        revision = ExperimentRevision.objects.select_for_update().get(pk=revision.pk)
        if revision.status != RevisionStatus.VALIDATED:
            raise ChaosRuleViolation(
                f"Revision {revision.number} is {revision.status}; only a validated revision (dry-run passed) "
                "can be approved.",
                code="not_validated",
            )
        if approver == revision.author:
            raise ApprovalRefused(
                "The author of a revision cannot approve it; ask another SRE (four-eyes rule, ADR-012).",
                code="author_cannot_approve",
            )
        if any(item["by"] == approver for item in revision.approvals):
            raise ApprovalRefused(
                f"{approver} has already approved revision {revision.number}; it needs "
                f"{revision.approvals_required} distinct SREs (authored by {revision.author}).",
                code="already_approved",
            )
        now = timezone.now()
        revision.approvals = [*revision.approvals, {"by": approver, "at": now.isoformat()}]
        if len(revision.approvals) >= revision.approvals_required:
            revision.status = RevisionStatus.APPROVED
            revision.approved_by, revision.approved_at = approver, now
            # The approved revision replaces any older one still launchable.
            revision.experiment.revisions.exclude(pk=revision.pk).filter(status=RevisionStatus.APPROVED).update(
                status=RevisionStatus.SUPERSEDED
            )
        revision.save()
    logger.info(
        "chaos_revision_approved",
        experiment=revision.experiment.key,
        revision=revision.number,
        approvals=len(revision.approvals),
        required=revision.approvals_required,
    )
    return revision


def run_enqueue(run_id: int) -> None:
    """Hand a run to the chaos worker: by task name (tasks import these services, not the reverse);
    settings route it to the `chaos` queue."""
    current_app.send_task(RUN_EXECUTE_TASK, args=[run_id])


def run_launch(
    *, revision: ExperimentRevision, launched_by: str, request_id: str = "", enqueue: bool = True
) -> ExperimentRun:
    """Create a run of an approved revision after a fresh dry-run and hand it to the chaos worker on commit.

    ``enqueue=False``: the caller executes it in its own process (``chaos_launch``, tests)."""
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
        report = dry_run.dry_run(revision.manifest_text, experiment_id=revision.experiment_id)
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
        if enqueue:
            transaction.on_commit(lambda: run_enqueue(run.pk), using=CATALOG)
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
    report = dry_run.DryRunReport()
    dry_run.check_adr(adr_ref, report)
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


def gitops_author(root: Path, relative: str) -> str | None:
    """The lab username of whoever committed the file last, when ``root`` is a git checkout and the
    file has no uncommitted change; ``git:<email>`` for a committer who is no lab user; else None."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    if git("rev-parse", "--is-inside-work-tree") != "true":
        return None
    if git("status", "--porcelain", "--", relative):  # changed since the commit: nobody signed this content
        return None
    found = git("log", "-1", "--format=%ae%x00%an", "--", relative)
    if not found:
        return None
    email, _, name = found.partition("\0")
    User = get_user_model()
    user = User.objects.using(CATALOG).filter(email__iexact=email).first() if email else None
    if user is None and name:
        user = User.objects.using(CATALOG).filter(username=name).first()
    return user.get_username() if user is not None else f"git:{email or name}"[:150]


def experiments_reconcile(*, root: Path | None = None) -> dict:
    """Sync the GitOps folder: each new or changed manifest becomes a revision and is dry-run; a
    manifest gone from the folder retires its experiment's revisions (none can be launched)."""
    root = root or manifests.experiments_dir()
    created, unchanged = [], []
    files = manifests.manifest_files(root)
    for key, text in files:
        before = ExperimentRevision.objects.filter(experiment__key=key, content_hash=manifests.content_hash(text))
        if before.exclude(status=RevisionStatus.RETIRED).exists():
            unchanged.append(key)
            continue
        author = gitops_author(root, key)
        revision = experiment_submit(
            key=key,
            manifest_text=text,
            author=author or GITOPS_RECONCILER,
            source="gitops",
            approvals_required=1 if author else 2,
            accept_unparseable=True,
        )
        revision_dry_run(revision=revision)
        created.append({"key": key, "revision": revision.number})
    retired = experiments_retire_missing(present={key for key, _ in files})
    logger.info("chaos_reconcile", root=str(root), created=len(created), unchanged=len(unchanged), retired=len(retired))
    return {"root": str(root), "created": created, "unchanged": unchanged, "retired": retired}


def experiments_retire_missing(*, present: set[str]) -> list[str]:
    retired = []
    with transaction.atomic(using=CATALOG):
        for experiment in Experiment.objects.select_for_update().filter(source="gitops").exclude(key__in=present):
            changed = experiment.revisions.exclude(status=RevisionStatus.RETIRED).update(status=RevisionStatus.RETIRED)
            if changed:
                retired.append(experiment.key)
    for key in retired:
        logger.warning("chaos_experiment_retired", experiment=key, reason="manifest removed from the GitOps folder")
    return retired


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
