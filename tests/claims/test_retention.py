"""Retention classes as data: paid claims archive after their active window and purge after the
current retention (never below the floor, never under a legal hold), each step audited, by the same
code the nightly beat task runs."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.claims.errors import LegalHoldConflict, RetentionBelowFloor
from apps.claims.models import ArchivedClaim, Claim, ClaimLineItem, LegalHold, RetentionPolicy
from apps.claims.services.retention import (
    claim_legal_hold_release,
    claim_legal_hold_set,
    claims_retention_sweep,
    retention_policy_set,
)
from apps.claims.tasks import claims_retention_sweep_task
from apps.core.actors import Actor
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory

pytestmark = pytest.mark.django_db(databases="__all__")


FLOOR = 2190  # PIMLAB_RETENTION_FLOOR_DAYS's default: six years
COMPLIANCE = Actor(user_id=None, role="compliance_officer", display_name="Compliance")


def submit(client, payer_code="ACME-HEALTH", paid=True):
    """A claim as the API makes it; paid in full unless ``paid=False`` (only paid claims archive)."""
    encounter = EncounterFactory()
    response = post_claim(client, claim_body(encounter, payer_code=payer_code))
    assert response.status_code == 202
    claim_id = int(response.json()["claim_id"])
    if paid:
        payment = client.post(
            f"/api/claims/{claim_id}/payment",
            {"paid_amount": "151.00"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        assert payment.status_code in (200, 201), payment.content
    return claim_id, encounter._state.db


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
        ("claim.paid", "success", "billing_admin"),  # only paid claims are archived
        ("claim.archived", "success", "system"),
        ("claim.purged", "success", "system"),
    ]


def test_policy_edits_take_effect(billing_admin):
    # A 0/0 policy is refused now (the floor); the shortest allowed policy still takes effect.
    _user, client = billing_admin
    claim_id, alias = submit(client)
    retention_policy_set(actor=COMPLIANCE, retention_class="standard", active_days=0, retention_days=FLOOR)
    result = claims_retention_sweep(now=timezone.now() + timedelta(days=FLOOR, seconds=1))
    assert result.archived == 1 and result.purged == 1
    assert not ArchivedClaim.objects.using(alias).filter(claim_id=claim_id).exists()


def test_archived_claim_still_blocks_a_duplicate(billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory()
    response = post_claim(client, claim_body(encounter))
    assert response.status_code == 202
    paid = client.post(
        f"/api/claims/{response.json()['claim_id']}/payment",
        {"paid_amount": "151.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert paid.status_code in (200, 201)
    assert claims_retention_sweep(now=timezone.now() + timedelta(days=400)).archived == 1
    response = post_claim(client, claim_body(encounter))
    assert response.status_code == 403 and response.json()["rule"] == "duplicate_claim"


def test_beat_task_runs_the_sweep(billing_admin):
    _user, client = billing_admin
    submit(client)  # paid: only paid claims are archived
    RetentionPolicy.objects.filter(retention_class="standard").update(active_days=0)
    assert claims_retention_sweep_task.apply().get() == {"archived": 1, "purged": 0}


def test_beat_schedule_declares_the_sweep():
    from apps.claims.schedules import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["claims-retention-sweep"]["task"] == "claims.retention_sweep"


# --- Floor, holds, open claims, current policy (issue 15, point 5) -------------------------------


def test_a_policy_below_the_floor_is_refused_by_model_service_and_admin():
    policy = RetentionPolicy.objects.get(pk="standard")
    policy.active_days, policy.retention_days = 0, 0
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "retention floor of 2190 days" in str(refused.value.message_dict["retention_days"])

    with pytest.raises(RetentionBelowFloor) as refused_by_service:
        retention_policy_set(actor=COMPLIANCE, retention_class="standard", active_days=0, retention_days=0)
    assert refused_by_service.value.status == 422 and refused_by_service.value.extra["floor_days"] == FLOOR

    admin_user = get_user_model().objects.create_superuser("ops", "ops@example.test", "pass-word-123")
    browser = Client()
    browser.force_login(admin_user)
    response = browser.post(
        "/admin/claims/retentionpolicy/standard/change/",
        {"retention_class": "standard", "active_days": "0", "retention_days": "0", "description": "x"},
    )
    assert response.status_code == 200 and "below the retention floor" in response.content.decode()
    assert RetentionPolicy.objects.get(pk="standard").retention_days == 2555


def test_floor_is_configurable_per_class(settings):
    settings.PIMLAB_RETENTION_FLOOR_DAYS = "2190,government=4000"
    with pytest.raises(RetentionBelowFloor):
        retention_policy_set(actor=COMPLIANCE, retention_class="government", active_days=365, retention_days=3650)
    assert (
        retention_policy_set(
            actor=COMPLIANCE, retention_class="standard", active_days=365, retention_days=2190
        ).retention_days
        == 2190
    )


def test_a_policy_edited_past_validation_still_never_purges_before_the_floor(billing_admin):
    _user, client = billing_admin
    claim_id, alias = submit(client)
    RetentionPolicy.objects.filter(retention_class="standard").update(active_days=0, retention_days=0)
    result = claims_retention_sweep(now=timezone.now() + timedelta(seconds=1))
    assert result.archived == 1 and result.purged == 0
    assert ArchivedClaim.objects.using(alias).filter(claim_id=claim_id).exists()
    assert claims_retention_sweep(now=timezone.now() + timedelta(days=FLOOR, seconds=1)).purged == 1


def test_an_open_claim_is_never_archived(billing_admin):
    _user, client = billing_admin
    claim_id, alias = submit(client, paid=False)
    assert claims_retention_sweep(now=timezone.now() + timedelta(days=5000)).archived == 0
    assert Claim.objects.using(alias).get(pk=claim_id).status == "submitted"
    assert not ArchivedClaim.objects.using(alias).filter(claim_id=claim_id).exists()


def test_a_legal_hold_stops_archive_and_purge_until_released(billing_admin):
    _user, client = billing_admin
    claim_id, alias = submit(client)
    now = timezone.now()
    claim_legal_hold_set(actor=COMPLIANCE, claim_id=claim_id, reason="Matter 2026-CV-0142")
    with pytest.raises(LegalHoldConflict):
        claim_legal_hold_set(actor=COMPLIANCE, claim_id=claim_id, reason="again")

    assert claims_retention_sweep(now=now + timedelta(days=400)).archived == 0
    assert Claim.objects.using(alias).filter(pk=claim_id).exists()

    claim_legal_hold_release(actor=COMPLIANCE, claim_id=claim_id, reason="Matter closed")
    assert claims_retention_sweep(now=now + timedelta(days=400)).archived == 1

    # A hold on an archived claim stops its purge.
    claim_legal_hold_set(actor=COMPLIANCE, claim_id=claim_id, reason="Matter 2027-CV-0007")
    assert LegalHold.objects.using(alias).filter(claim_id=claim_id).exists()
    assert claims_retention_sweep(now=now + timedelta(days=5000)).purged == 0
    assert ArchivedClaim.objects.using(alias).filter(claim_id=claim_id).exists()
    claim_legal_hold_release(actor=COMPLIANCE, claim_id=claim_id)
    assert claims_retention_sweep(now=now + timedelta(days=5000)).purged == 1
    with pytest.raises(LegalHoldConflict):
        claim_legal_hold_release(actor=COMPLIANCE, claim_id=claim_id)

    actions = list(
        AuditEvent.objects.using(alias)
        .filter(resource_id=str(claim_id))
        .exclude(action="claim.read")
        .order_by("occurred_at", "id")
        .values_list("action", "actor_role")
    )
    assert actions == [
        ("claim.submitted", "billing_admin"),
        ("claim.paid", "billing_admin"),
        ("legal_hold.placed", "compliance_officer"),
        ("legal_hold.released", "compliance_officer"),
        ("claim.archived", "system"),
        ("legal_hold.placed", "compliance_officer"),
        ("legal_hold.released", "compliance_officer"),
        ("claim.purged", "system"),
    ]
    placed = AuditEvent.objects.using(alias).filter(resource_id=str(claim_id), action="legal_hold.placed").first()
    assert placed.detail["reason"] == "Matter 2026-CV-0142" and placed.resource_type == "legal_hold"


def test_extending_the_policy_protects_an_already_archived_claim(billing_admin):
    _user, client = billing_admin
    claim_id, alias = submit(client)
    now = timezone.now()
    assert claims_retention_sweep(now=now + timedelta(days=400)).archived == 1
    retention_policy_set(actor=COMPLIANCE, retention_class="standard", active_days=365, retention_days=3650)
    assert claims_retention_sweep(now=now + timedelta(days=2556)).purged == 0
    assert ArchivedClaim.objects.using(alias).filter(claim_id=claim_id).exists()
    assert claims_retention_sweep(now=now + timedelta(days=3651)).purged == 1
    purged = AuditEvent.objects.using(alias).get(resource_id=str(claim_id), action="claim.purged")
    assert purged.detail["retention_days"] == 3650
    change = RetentionPolicy.history.filter(retention_class="standard").latest("history_date")
    assert change.retention_days == 3650 and "compliance_officer" in change.history_change_reason
