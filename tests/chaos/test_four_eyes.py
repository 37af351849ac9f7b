"""Four-eyes with real identities (issue 13): the GitOps author is the committer (or the reconciler,
with two distinct approvals), never the manifest's `owner`; nobody approves their own revision;
the admin cannot edit governance; a removed manifest retires its revisions; superseding another
SRE's approved drill needs approval; launching hands the run to the chaos queue on commit."""

from __future__ import annotations

import subprocess

import pytest
import redis
import yaml
from django.conf import settings

from apps.chaos import services
from apps.chaos.errors import ApprovalRefused
from apps.chaos.models import Experiment, ExperimentRevision, RevisionStatus
from apps.chaos.services import ChaosRuleViolation
from apps.core.models import PersonaRole
from tests.factories import persona_user

from .conftest import small_manifest

pytestmark = pytest.mark.django_db(databases="__all__")


def git(repo, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    repo = tmp_path / "experiments"
    repo.mkdir()
    git(repo, "init", "-q")
    return repo


def commit(repo, name: str, manifest: dict, *, email: str, author: str) -> None:
    (repo / name).write_text(yaml.safe_dump(manifest, sort_keys=False))
    git(repo, "add", name)
    git(repo, "-c", f"user.email={email}", "-c", f"user.name={author}", "commit", "-q", "-m", f"drill {name}")


def test_a_gitops_commit_whose_owner_names_someone_else_cannot_be_approved_by_its_committer(checkout):
    mallory, _ = persona_user(PersonaRole.SRE, username="sre-mallory")
    mallory.email = "mallory@pimlab.example.test"
    mallory.save(update_fields=["email"])
    persona_user(PersonaRole.SRE, username="sre-approver")
    commit(checkout, "drill.yaml", small_manifest(owner="sre-approver"), email=mallory.email, author="Mallory")

    services.experiments_reconcile(root=checkout)
    revision = Experiment.objects.get(key="drill.yaml").current_revision
    assert revision.author == "sre-mallory"  # the committer, whatever `owner` says
    assert revision.approvals_required == 1 and revision.status == RevisionStatus.VALIDATED
    with pytest.raises(ApprovalRefused) as refused:
        services.revision_approve(revision=revision, approver="sre-mallory")
    assert refused.value.code == "author_cannot_approve" and refused.value.status == 409
    assert services.revision_approve(revision=revision, approver="sre-approver").status == RevisionStatus.APPROVED


def test_an_uncommitted_or_unversioned_manifest_is_the_reconcilers_and_needs_two_distinct_sres(checkout, tmp_path):
    commit(checkout, "drill.yaml", small_manifest(), email="sre-a@pimlab.example.test", author="sre-a")
    (checkout / "drill.yaml").write_text(yaml.safe_dump(small_manifest(duration_seconds=90)))  # not committed
    services.experiments_reconcile(root=checkout)
    revision = Experiment.objects.get(key="drill.yaml").current_revision
    assert revision.author == services.GITOPS_RECONCILER and revision.approvals_required == 2

    services.revision_approve(revision=revision, approver="sre-a")
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.VALIDATED  # one of two
    with pytest.raises(ChaosRuleViolation):
        services.run_launch(revision=revision, launched_by="sre-a")
    with pytest.raises(ApprovalRefused) as twice:
        services.revision_approve(revision=revision, approver="sre-a")
    assert twice.value.code == "already_approved"
    approved = services.revision_approve(revision=revision, approver="sre-b")
    assert approved.status == RevisionStatus.APPROVED
    assert [a["by"] for a in approved.approvals] == ["sre-a", "sre-b"]


def test_governed_revision_fields_are_read_only_in_the_admin(admin_client):
    revision = services.experiment_submit(
        key="api/admin", manifest_text=yaml.safe_dump(small_manifest()), author="sre-author"
    )
    services.revision_dry_run(revision=revision)
    page = admin_client.get(f"/admin/chaos/experimentrevision/{revision.pk}/change/").content.decode()
    for governed in ("status", "author", "approved_by", "approvals", "manifest_text", "approvals_required"):
        assert f'name="{governed}"' not in page, governed
    admin_client.post(
        f"/admin/chaos/experimentrevision/{revision.pk}/change/",
        {"status": "approved", "approved_by": "sre-author", "author": "someone-else"},
    )
    revision.refresh_from_db()
    assert (
        revision.status == RevisionStatus.VALIDATED and revision.approved_by == "" and revision.author == "sre-author"
    )
    run_page = admin_client.get("/admin/chaos/experimentrun/add/")
    assert run_page.status_code == 403  # runs are launched through the governed services only


def test_a_removed_manifest_retires_its_revisions_and_cannot_be_launched(tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "drill.yaml").write_text(yaml.safe_dump(small_manifest(schedule="*/5 * * * *")))
    services.experiments_reconcile(root=folder)
    revision = Experiment.objects.get(key="drill.yaml").current_revision
    services.revision_approve(revision=revision, approver="sre-a")
    services.revision_approve(revision=revision, approver="sre-b")

    (folder / "drill.yaml").unlink()
    result = services.experiments_reconcile(root=folder)
    assert result["retired"] == ["drill.yaml"]
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.RETIRED
    with pytest.raises(ChaosRuleViolation) as refused:
        services.run_launch(revision=revision, launched_by="sre-a")
    assert refused.value.code == "not_approved"
    assert services.scheduled_runs_launch() == []


def test_superseding_another_sres_approved_revision_needs_approval_again():
    approved = services.experiment_submit(
        key="api/shared", manifest_text=yaml.safe_dump(small_manifest()), author="sre-author"
    )
    services.revision_dry_run(revision=approved)
    services.revision_approve(revision=approved, approver="sre-approver")

    takeover = services.experiment_submit(
        key="api/shared", manifest_text=yaml.safe_dump(small_manifest(duration_seconds=600)), author="sre-mallory"
    )
    approved.refresh_from_db()
    assert approved.status == RevisionStatus.APPROVED  # still the launchable drill
    services.revision_dry_run(revision=takeover)
    # A dry-run by anyone does not un-approve it either (launch dry-runs it again anyway).
    services.revision_dry_run(revision=approved)
    approved.refresh_from_db()
    assert approved.status == RevisionStatus.APPROVED
    with pytest.raises(ApprovalRefused):
        services.revision_approve(revision=takeover, approver="sre-mallory")

    services.revision_approve(revision=takeover, approver="sre-author")
    approved.refresh_from_db()
    assert approved.status == RevisionStatus.SUPERSEDED
    assert ExperimentRevision.objects.get(pk=takeover.pk).status == RevisionStatus.APPROVED


def test_run_launch_hands_the_run_to_the_chaos_queue_on_commit(django_capture_on_commit_callbacks):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("chaos")
    revision = services.experiment_submit(
        key="api/queued", manifest_text=yaml.safe_dump(small_manifest()), author="sre-author"
    )
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = services.run_launch(revision=revision, launched_by="sre-approver")
        assert broker.llen("chaos") == 0  # nothing before the commit
        assert len(callbacks) == 1
        callbacks[0]()
        queued = broker.lrange("chaos", 0, -1)
        assert len(queued) == 1 and b"chaos.run_execute" in queued[0] and f"[{run.pk}]".encode() in queued[0]
    finally:
        broker.delete("chaos")
