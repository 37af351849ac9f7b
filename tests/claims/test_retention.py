"""Retention classes as data: claims archive after their active window and purge after retention,
each step audited, by the same code the nightly beat task runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.claims.models import ArchivedClaim, Claim, ClaimLineItem, RetentionPolicy
from apps.claims.services.retention import claims_retention_sweep
from apps.claims.tasks import claims_retention_sweep_task
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def submit(client, payer_code="ACME-HEALTH"):
    encounter = EncounterFactory()
    response = post_claim(client, claim_body(encounter, payer_code=payer_code))
    assert response.status_code == 202
    return int(response.json()["claim_id"]), encounter._state.db


def test_sweep_archives_then_purges_by_policy_with_audit(billing_admin):
    _user, client = billing_admin
    standard_id, alias = submit(client)
    government_id, gov_alias = submit(client, payer_code="MEDICARE")
    now = timezone.now()

    assert claims_retention_sweep(now=now + timedelta(days=364)).archived == 0
    result = claims_retention_sweep(now=now + timedelta(days=366))
    assert result.archived == 2 and result.purged == 0
    assert not Claim.objects.using(alias).filter(pk=standard_id).exists()
    assert not ClaimLineItem.objects.using(alias).filter(claim_id=standard_id).exists()
    archived = ArchivedClaim.objects.using(alias).get(claim_id=standard_id)
    assert [line["procedure_code"] for line in archived.line_items] == ["99213", "36415"]
    assert archived.purge_after.date() == (archived.submitted_at + timedelta(days=2555)).date()

    # Still readable by operators through the API, marked archived.
    detail = client.get(f"/api/claims/{standard_id}")
    assert detail.status_code == 200 and detail.json()["archived"] is True

    result = claims_retention_sweep(now=now + timedelta(days=2556))
    assert result.purged == 1  # the government class keeps its copy for ten years
    assert not ArchivedClaim.objects.using(alias).filter(claim_id=standard_id).exists()
    assert ArchivedClaim.objects.using(gov_alias).filter(claim_id=government_id).exists()
    assert client.get(f"/api/claims/{standard_id}").status_code == 404

    reads = AuditEvent.objects.using(alias).filter(resource_id=str(standard_id), action="claim.read")
    assert reads.count() == 1  # the read of the archived copy (reads are audited since the access policy)
    actions = list(
        AuditEvent.objects.using(alias)
        .filter(resource_id=str(standard_id))
        .exclude(action="claim.read")
        .order_by("occurred_at", "id")
        .values_list("action", "outcome", "actor_role")
    )
    assert actions == [
        ("claim.submitted", "success", "billing_admin"),
        ("claim.archived", "success", "system"),
        ("claim.purged", "success", "system"),
    ]


def test_policy_edits_take_effect(billing_admin):
    _user, client = billing_admin
    claim_id, alias = submit(client)
    RetentionPolicy.objects.filter(retention_class="standard").update(active_days=0, retention_days=0)
    result = claims_retention_sweep(now=timezone.now() + timedelta(seconds=1))
    assert result.archived == 1 and result.purged == 1
    assert not ArchivedClaim.objects.using(alias).filter(claim_id=claim_id).exists()


def test_archived_claim_still_blocks_a_duplicate(billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory()
    assert post_claim(client, claim_body(encounter)).status_code == 202
    claims_retention_sweep(now=timezone.now() + timedelta(days=400))
    response = post_claim(client, claim_body(encounter))
    assert response.status_code == 403 and response.json()["rule"] == "duplicate_claim"


def test_beat_task_runs_the_sweep(billing_admin):
    _user, client = billing_admin
    submit(client)
    RetentionPolicy.objects.filter(retention_class="standard").update(active_days=0)
    assert claims_retention_sweep_task.apply().get() == {"archived": 1, "purged": 0}


def test_beat_schedule_declares_the_sweep():
    from apps.claims.schedules import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["claims-retention-sweep"]["task"] == "claims.retention_sweep"
