"""Governance of experiments: dry-run rejections, four-eyes approval, lifecycle through the API, reconcile."""

from __future__ import annotations

import json

import pytest
import yaml
from rest_framework.test import APIClient

from apps.chaos import services
from apps.chaos.models import ExperimentRun, RevisionStatus, RunStatus
from apps.chaos.services import ChaosRuleViolation
from apps.core.models import PersonaRole, ShardMapEntry
from tests.factories import persona_user

from .conftest import small_manifest

pytestmark = pytest.mark.django_db(databases="__all__")


def submit(manifest: dict | str, *, key="api/test", author="sre-author"):
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest, sort_keys=False)
    return services.experiment_submit(key=key, manifest_text=text, author=author)


def failed_checks(report: dict) -> dict:
    return {c["check"]: c["errors"] for c in report["checks"] if not c["ok"]}


def test_valid_manifest_passes_every_check():
    revision = submit(small_manifest())
    report = services.revision_dry_run(revision=revision)
    revision.refresh_from_db()
    assert report["ok"], report
    assert [c["check"] for c in report["checks"]] == [
        "schema",
        "activities",
        "targets",
        "blast_radius",
        "capabilities",
        "adr",
        "schedule",
        "conflicts",
    ]
    assert revision.status == RevisionStatus.VALIDATED and revision.dry_run_report == report


@pytest.mark.parametrize(
    ("change", "check", "fragment"),
    [
        ({"method": "not a list"}, "schema", "method"),
        ({"title": None}, "schema", "title"),
        (
            {"method": [{"name": "x", "type": "action", "action": "drop_all_tables"}]},
            "activities",
            "unknown action 'drop_all_tables'",
        ),
        (
            {
                "blast_radius": {
                    "targets": [{"kind": "shard", "name": "shard_9"}],
                    "max_patient_share": 0.5,
                    "max_traffic_share": 0.5,
                }
            },
            "targets",
            "Shard 'shard_9' does not exist",
        ),
        (
            {"method": [{"name": "kill", "type": "action", "action": "ha_pod_kill"}]},
            "targets",
            "touches ha_cluster",
        ),
        (
            {
                "blast_radius": {
                    "targets": [{"kind": "shard", "name": "shard_1"}],
                    "max_patient_share": 0.9,
                    "max_traffic_share": 0.5,
                }
            },
            "blast_radius",
            "exceeds the policy limit",
        ),
        ({"adr": "docs/ADR/ADR-999-missing.md"}, "adr", "is not a file under docs/ADR/"),
        ({"adr": "../../etc/passwd"}, "adr", "is not a file under docs/ADR/"),
        ({"adr": "https://example.test/wiki/random-page"}, "adr", "does not match"),
        ({"schedule": "every monday"}, "schedule", "needs 5 fields"),
        ({"schedule": "99 * * * *"}, "schedule", "is invalid"),
    ],
)
def test_dry_run_rejects_each_class_and_blocks_approval(change, check, fragment):
    revision = submit(small_manifest(**change))
    report = services.revision_dry_run(revision=revision)
    revision.refresh_from_db()
    assert not report["ok"]
    assert check in failed_checks(report), report
    assert any(fragment in error for error in failed_checks(report)[check]), report
    assert revision.status == RevisionStatus.REJECTED
    with pytest.raises(ChaosRuleViolation) as refused:
        services.revision_approve(revision=revision, approver="sre-approver")
    assert refused.value.code == "not_validated"


def test_dry_run_rejects_targeted_shards_holding_more_patients_than_declared():
    ShardMapEntry.objects.all().delete()
    ShardMapEntry.objects.create(bucket_start=0, bucket_end=767, shard_alias="shard_1")
    ShardMapEntry.objects.create(bucket_start=768, bucket_end=1023, shard_alias="shard_0")
    report = services.revision_dry_run(revision=submit(small_manifest()))
    assert any("hold 75% of patients" in e for e in failed_checks(report)["blast_radius"]), failed_checks(report)


def test_dry_run_accepts_an_adr_url_of_the_accepted_shape():
    report = services.revision_dry_run(
        revision=submit(small_manifest(adr="https://docs.pim-sre.lab/ADR/ADR-012-chaos-governance"))
    )
    assert report["ok"], report


def test_dry_run_rejects_a_conflicting_running_experiment():
    first = submit(small_manifest(), key="api/first")
    services.revision_dry_run(revision=first)
    services.revision_approve(revision=first, approver="sre-approver")
    services.run_launch(revision=first, launched_by="sre-approver")  # running, not executed

    report = services.revision_dry_run(revision=submit(small_manifest(title="Another one"), key="api/second"))
    assert any("is running on shard:shard_1" in e for e in failed_checks(report)["conflicts"]), report
    # …and a second launch of the same experiment is blocked by the same check.
    first.refresh_from_db()
    with pytest.raises(ChaosRuleViolation) as blocked:
        services.run_launch(revision=first, launched_by="sre-approver")
    assert blocked.value.code == "dry_run_failed"
    assert ExperimentRun.objects.count() == 1


def test_author_cannot_approve_own_revision_but_another_sre_can():
    revision = submit(small_manifest(), author="sre-author")
    services.revision_dry_run(revision=revision)
    with pytest.raises(ChaosRuleViolation) as refused:
        services.revision_approve(revision=revision, approver="sre-author")
    assert refused.value.code == "author_cannot_approve"
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.VALIDATED
    approved = services.revision_approve(revision=revision, approver="sre-approver")
    assert approved.status == RevisionStatus.APPROVED and approved.approved_by == "sre-approver"


def test_launch_needs_approval_and_a_released_kill_switch():
    revision = submit(small_manifest())
    services.revision_dry_run(revision=revision)
    with pytest.raises(ChaosRuleViolation) as not_approved:
        services.run_launch(revision=revision, launched_by="sre-approver")
    assert not_approved.value.code == "not_approved"
    services.revision_approve(revision=revision, approver="sre-approver")
    services.kill_switch_set(engaged=True, changed_by="sre-lead", reason="incident in progress")
    with pytest.raises(ChaosRuleViolation) as switched_off:
        services.run_launch(revision=revision, launched_by="sre-approver")
    assert switched_off.value.code == "kill_switch"
    services.kill_switch_set(engaged=False, changed_by="sre-lead")
    assert services.run_launch(revision=revision, launched_by="sre-approver").status == RunStatus.RUNNING


def test_sre_lifecycle_through_the_api(monkeypatch, django_capture_on_commit_callbacks):
    from apps.chaos import tasks

    _, author_token = persona_user(PersonaRole.SRE, username="sre-author")
    _, approver_token = persona_user(PersonaRole.SRE, username="sre-approver")
    _, patient_token = persona_user(PersonaRole.CLINICIAN, username="some-clinician")
    # run_launch hands the run to the chaos worker on commit; here the task runs in this process.
    monkeypatch.setattr(services, "run_enqueue", lambda run_id: tasks.chaos_run_execute.apply(args=[run_id]))
    as_author, as_approver, as_patient = APIClient(), APIClient(), APIClient()
    as_author.credentials(HTTP_AUTHORIZATION=f"Token {author_token}")
    as_approver.credentials(HTTP_AUTHORIZATION=f"Token {approver_token}")
    as_patient.credentials(HTTP_AUTHORIZATION=f"Token {patient_token}")

    manifest = yaml.safe_dump(small_manifest())
    assert as_patient.post("/api/chaos/experiments/submit", {"name": "x", "manifest": manifest}).status_code == 403
    submitted = as_author.post("/api/chaos/experiments/submit", {"name": "pause-drill", "manifest": manifest})
    assert submitted.status_code == 201, submitted.content
    revision_id = submitted.json()["id"]
    assert submitted.json()["status"] == "draft"

    dry = as_author.post(f"/api/chaos/revisions/{revision_id}/dry-run")
    assert dry.status_code == 200 and dry.json()["status"] == "validated"

    own = as_author.post(f"/api/chaos/revisions/{revision_id}/approve")
    assert own.status_code == 409
    assert own["Content-Type"] == "application/problem+json"
    assert "cannot approve" in own.json()["detail"] and own.json()["remediation"]

    assert as_approver.post(f"/api/chaos/revisions/{revision_id}/approve").status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        launched = as_approver.post(f"/api/chaos/revisions/{revision_id}/launch")
    assert len(callbacks) == 1  # the run is handed to a worker only after the launch committed
    assert launched.status_code == 202, launched.content
    run_id = launched.json()["id"]

    run = as_author.get(f"/api/chaos/runs/{run_id}").json()
    assert run["status"] == "completed", run
    assert run["journal"]["status"] == "completed"
    report = as_author.get(f"/api/chaos/runs/{run_id}/report").json()
    assert report["steady_state"] == {"before": True, "during": [], "after": True}
    assert [m["name"] for m in report["method"]] == ["short pause"]
    assert [r["name"] for r in report["rollbacks"]] == ["rollback pause"]

    bad_close = as_author.post(f"/api/chaos/runs/{run_id}/close", {"adr_ref": "docs/ADR/nope.md"})
    assert bad_close.status_code == 409
    closed = as_author.post(
        f"/api/chaos/runs/{run_id}/close", {"adr_ref": "docs/ADR/ADR-012-chaos-governance.md", "notes": "ok"}
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["outcome"] == "completed"

    annotations = as_author.get("/api/chaos/annotations").json()
    assert {"start", "end"} <= {tag for a in annotations for tag in a["tags"]}
    assert all(isinstance(a["time"], int) and a["text"] for a in annotations)


def test_schema_is_published_at_an_api_url():
    response = APIClient().get("/api/chaos/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["title"] == "PIM SRE Lab chaos experiment manifest"
    assert {"blast_radius", "adr", "steady_state_hypothesis", "method", "rollbacks"} <= set(schema["required"])


def test_reconcile_turns_a_changed_manifest_into_a_new_revision(tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    path = folder / "pause.yaml"
    path.write_text(yaml.safe_dump(small_manifest(owner="sre-author")))

    first = services.experiments_reconcile(root=folder)
    assert first["created"] == [{"key": "pause.yaml", "revision": 1}]
    assert services.experiments_reconcile(root=folder)["unchanged"] == ["pause.yaml"]

    from apps.chaos.models import Experiment

    revision_1 = Experiment.objects.get(key="pause.yaml").current_revision
    # The manifest's `owner` is no identity (issue 13): outside a git checkout the reconciler authors
    # the revision and two distinct SREs must approve it.
    assert revision_1.status == RevisionStatus.VALIDATED and revision_1.author == services.GITOPS_RECONCILER
    assert revision_1.approvals_required == 2
    services.revision_approve(revision=revision_1, approver="sre-approver")
    services.revision_approve(revision=revision_1, approver="sre-author")
    revision_1.refresh_from_db()
    assert revision_1.status == RevisionStatus.APPROVED

    path.write_text(yaml.safe_dump(small_manifest(owner="sre-author", duration_seconds=90)))
    second = services.experiments_reconcile(root=folder)
    assert second["created"] == [{"key": "pause.yaml", "revision": 2}]
    revision_1.refresh_from_db()
    revision_2 = Experiment.objects.get(key="pause.yaml").current_revision
    assert revision_1.status == RevisionStatus.SUPERSEDED
    assert revision_2.number == 2 and revision_2.status == RevisionStatus.VALIDATED  # approval needed again
    assert revision_2.content_hash != revision_1.content_hash
    with pytest.raises(ChaosRuleViolation):
        services.run_launch(revision=revision_2, launched_by="sre-approver")


def test_reconcile_command_reads_the_repository_folder(capsys):
    from django.core.management import call_command

    call_command("chaos_reconcile")
    result = json.loads(capsys.readouterr().out)
    keys = {item["key"] for item in result["created"]}
    assert {"sql-failover-pod-kill.yaml", "sql-switchover-planned.yaml"} <= keys


def test_scheduled_experiment_launches_when_due_and_never_twice_at_once():
    from datetime import timedelta

    revision = submit(small_manifest(schedule="*/5 * * * *"))
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    revision.refresh_from_db()
    later = revision.approved_at + timedelta(minutes=11)
    unscheduled = submit(small_manifest(title="no schedule"), key="api/other")
    services.revision_dry_run(revision=unscheduled)

    assert services.scheduled_runs_launch(now=revision.approved_at) == []  # no time has passed: not due
    runs = services.scheduled_runs_launch(now=later)
    assert [run.revision_id for run in runs] == [revision.pk]
    assert services.scheduled_runs_launch(now=later + timedelta(minutes=10)) == []  # the first one still runs
    assert ExperimentRun.objects.count() == 1


def test_chaos_launch_command_executes_an_approved_revision(capsys):
    from django.core.management import call_command

    revision = submit(small_manifest(), key="api/cli")
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    call_command("chaos_launch", "api/cli", username="sre-approver")
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "completed" and result["summary"]["rollbacks"] == "succeeded"


def test_admin_lists_experiments_revisions_runs_and_the_kill_switch(admin_client):
    revision = submit(small_manifest())
    services.revision_dry_run(revision=revision)
    services.kill_switch_set(engaged=False, changed_by="sre-lead")
    for model in ("experiment", "experimentrevision", "experimentrun", "chaosswitch"):
        response = admin_client.get(f"/admin/chaos/{model}/")
        assert response.status_code == 200, model
    assert b"api/test" in admin_client.get("/admin/chaos/experiment/").content
