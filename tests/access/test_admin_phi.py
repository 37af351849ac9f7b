"""The admin under the access policy: PHI pages are audited (one event per list page), admin edits
are audited, and what only services may change is read-only."""

from __future__ import annotations

import pytest

from apps.audits.models import AuditEvent
from apps.claims.models import Claim

pytestmark = pytest.mark.django_db(databases="__all__")


def events(alias, **filters):
    return AuditEvent.objects.using(alias).filter(**filters)


def test_admin_views_of_patients_encounters_and_claims_are_audited(route_world):
    operator = route_world.clients["operator"]
    ids, alias = route_world.ids, "shard_0"
    for path in (
        f"/admin/patients/patient/{ids['patient']}/change/",
        f"/admin/encounters/encounter/{ids['encounter']}/change/",
        f"/admin/encounters/encounter/{ids['encounter']}/history/",
        f"/admin/claims/claim/{ids['claim']}/change/",
    ):
        assert operator.get(path).status_code == 200, path
    viewed = events(
        alias, action__in=["admin.viewed", "admin.history_read"], actor_user_id=route_world.users["operator"].pk
    )
    assert sorted(viewed.values_list("resource_type", "action")) == [
        ("claim", "admin.viewed"),
        ("encounter", "admin.history_read"),
        ("encounter", "admin.viewed"),
        ("patient", "admin.viewed"),
    ]
    assert all(e.detail["purpose"] == "operations (admin)" and e.actor_role == "operator" for e in viewed)


def test_a_list_page_writes_one_event_naming_its_patients(route_world):
    assert route_world.clients["sre"].get("/admin/encounters/encounter/?shard=shard_0").status_code == 200
    listed = events("shard_0", action="admin.listed").get()
    assert listed.detail["patient_ids"] == [route_world.ids["patient"]] and listed.detail["rows"] == 1


def test_claim_money_and_state_are_read_only_in_the_admin(route_world):
    operator, claim_id = route_world.clients["operator"], route_world.ids["claim"]
    page = operator.get(f"/admin/claims/claim/{claim_id}/change/").content.decode()
    for field in ("status", "paid_amount", "total_amount"):
        assert f'name="{field}"' not in page
    operator.post(f"/admin/claims/claim/{claim_id}/change/", {"status": "paid", "paid_amount": "80.00"})
    claim = Claim.objects.using("shard_0").get(pk=int(claim_id))
    assert claim.status == "submitted" and claim.paid_amount is None
    assert operator.get("/admin/claims/claim/add/").status_code == 403
    encounter_page = operator.get(f"/admin/encounters/encounter/{route_world.ids['encounter']}/change/")
    html = encounter_page.content.decode()
    assert 'name="status"' not in html and 'name="clinician_user_id"' not in html


def test_an_admin_edit_of_a_patient_is_audited_with_the_changed_fields(route_world):
    operator, patient_id = route_world.clients["operator"], route_world.ids["patient"]
    form = operator.get(f"/admin/patients/patient/{patient_id}/change/").context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "phone": "555-010-0000",
            "care_team-TOTAL_FORMS": "0",
            "care_team-INITIAL_FORMS": "0",
            "care_team-MIN_NUM_FORMS": "0",
            "care_team-MAX_NUM_FORMS": "1000",
        }
    )
    response = operator.post(f"/admin/patients/patient/{patient_id}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    changed = events("shard_0", action="admin.changed").get()
    assert changed.detail["fields"] == ["phone"] and changed.actor_role == "operator"


def test_archived_claims_in_the_admin_are_audited_as_claim_reads(route_world):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from apps.claims.models import ArchivedClaim

    now, patient_id = timezone.now(), int(route_world.ids["patient"])
    archived = ArchivedClaim(
        claim_id=int(route_world.ids["claim"]) + 1, patient_id=patient_id,
        encounter_id=int(route_world.ids["encounter"]),
        payer_code="ACME-HEALTH", status="paid", currency="USD", total_amount=Decimal("10.00"),
        paid_amount=Decimal("10.00"), retention_class="standard", submitted_by_user_id=1, submitted_at=now,
        archived_at=now, purge_after=now + timedelta(days=2555),
    )  # fmt: skip
    archived.save(using="shard_0")
    operator = route_world.clients["operator"]
    assert operator.get("/admin/claims/archivedclaim/?shard=shard_0").status_code == 200
    assert operator.get(f"/admin/claims/archivedclaim/{archived.pk}/change/").status_code == 200
    seen = events("shard_0", action__in=["admin.listed", "admin.viewed"], resource_type="claim").order_by("id")
    assert [(e.action, e.resource_id) for e in seen] == [
        ("admin.listed", str(archived.claim_id)),
        ("admin.viewed", str(archived.claim_id)),
    ]
    assert seen[0].detail["patient_ids"] == [str(patient_id)]
    assert all(e.detail["purpose"] == "operations (admin)" and e.actor_role == "operator" for e in seen)
