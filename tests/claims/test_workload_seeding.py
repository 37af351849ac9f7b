"""`seed_workload`: a seeded lab gets visits booked, finished and billed through the real services."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.claims.models import Claim
from apps.core.actors import Actor
from apps.encounters.models import Encounter, EncounterStatus
from apps.encounters.services import EncounterNotFinishable, encounter_finish
from apps.outbox.models import OutboxEvent
from tests.factories import PatientFactory, encounter_for, persona_user
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")
SHARDS = ("shard_0", "shard_1")


def an_hour_ago():
    return timezone.now() - timedelta(hours=1)


def counts() -> dict[str, int]:
    def total(queryset_of) -> int:
        return sum(queryset_of(alias).count() for alias in SHARDS)

    return {
        "encounters": total(lambda a: Encounter.objects.using(a)),
        "finished": total(lambda a: Encounter.objects.using(a).filter(status=EncounterStatus.FINISHED)),
        "claims": total(lambda a: Claim.objects.using(a)),
        "finish_audits": total(lambda a: AuditEvent.objects.using(a).filter(action="encounter.finish")),
        "finished_events": total(lambda a: OutboxEvent.objects.using(a).filter(event_type="EncounterFinished")),
        "claim_events": total(lambda a: OutboxEvent.objects.using(a).filter(event_type="ClaimSubmitted")),
    }


def test_workload_books_finishes_and_bills_through_the_services_once():
    call_command("seed_lab", patients=12, seed=3, stdout=StringIO())
    out = StringIO()
    call_command("seed_workload", visits=9, stdout=out)
    assert "9 visits booked (0 already there), 6 finished, 6 claims submitted" in out.getvalue()
    first = counts()
    assert first == {
        "encounters": 9, "finished": 6, "claims": 6, "finish_audits": 6, "finished_events": 6, "claim_events": 6,
    }  # fmt: skip
    # Every claim sits on its patient's shard beside the finished encounter it bills.
    for alias in SHARDS:
        for claim in Claim.objects.using(alias):
            assert Encounter.objects.using(alias).get(pk=claim.encounter_id).status == EncounterStatus.FINISHED

    again = StringIO()
    call_command("seed_workload", visits=9, stdout=again)
    assert "0 visits booked (9 already there), 0 finished, 0 claims submitted" in again.getvalue()
    assert counts() == first


def test_only_a_care_team_clinician_finishes_a_visit():
    patient = PatientFactory()
    on_team, _ = persona_user("clinician")
    stranger, _ = persona_user("clinician")
    encounter = encounter_for(patient, clinician=on_team, requested_start=an_hour_ago())
    with pytest.raises(EncounterNotFinishable):
        encounter_finish(encounter_id=encounter.id, actor=Actor(user_id=stranger.pk, role="clinician"))
    with pytest.raises(EncounterNotFinishable):
        encounter_finish(encounter_id=encounter.id, actor=Actor(user_id=on_team.pk, role="billing_admin"))
    assert Encounter.objects.using(patient._state.db).get(pk=encounter.id).status == EncounterStatus.BOOKED
    finished, changed = encounter_finish(encounter_id=encounter.id, actor=Actor(user_id=on_team.pk, role="clinician"))
    assert changed and finished.status == EncounterStatus.FINISHED
    assert encounter_finish(encounter_id=encounter.id, actor=Actor(user_id=on_team.pk, role="clinician"))[1] is False


def test_workload_needs_a_seeded_lab():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="seed_lab"):
        call_command("seed_workload", visits=3, stdout=StringIO())


def test_finish_api_for_the_care_team_clinician_only():

    from apps.patients.models import CareTeamMember

    patient = PatientFactory()
    on_team, on_team_token = persona_user("clinician")
    CareTeamMember(patient=patient, clinician_user_id=on_team.pk).save(using=patient._state.db)
    _stranger, stranger_token = persona_user("clinician")
    _admin, admin_token = persona_user("billing_admin")
    encounter = encounter_for(patient, requested_start=an_hour_ago())

    def finish(token):
        client = api_client(token)
        return client.post(f"/api/encounters/{encounter.id}/finish")

    assert finish(admin_token).status_code == 403
    denied = finish(stranger_token)
    assert denied.status_code == 404 and denied.json()["remediation"]
    done = finish(on_team_token)
    assert done.status_code == 200 and done.json() == {"id": str(encounter.id), "status": "finished", "changed": True}
    assert finish(on_team_token).json()["changed"] is False
    assert AuditEvent.objects.using(patient._state.db).filter(action="encounter.finish").count() == 1


def test_a_visit_is_not_finished_before_it_starts_in_the_api_either():
    from rest_framework.test import APIClient

    patient = PatientFactory()
    clinician, token = persona_user("clinician")
    encounter = encounter_for(patient, clinician=clinician)  # starts in two days
    with pytest.raises(EncounterNotFinishable, match="cannot be finished before it starts"):
        encounter_finish(encounter_id=encounter.id, actor=Actor(user_id=clinician.pk, role="clinician"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    refused = client.post(f"/api/encounters/{encounter.id}/finish")
    assert refused.status_code == 409
    body = refused.json()
    assert body["title"] == "Visit has not started yet" and "before it starts" in body["detail"]
    assert body["remediation"] == "Finish the visit once its requested start has passed."
    assert Encounter.objects.using(patient._state.db).get(pk=encounter.id).status == EncounterStatus.BOOKED


def test_seeded_history_lies_in_the_past_so_every_lag_is_positive():
    call_command("seed_lab", patients=12, seed=3, stdout=StringIO())
    call_command("seed_workload", visits=9, stdout=StringIO())
    now = timezone.now()
    claims = [claim for alias in SHARDS for claim in Claim.objects.using(alias).select_related("encounter")]
    assert len(claims) == 6
    for claim in claims:
        encounter = claim.encounter
        assert encounter.created_at < encounter.requested_start < claim.submitted_at < now
        finish = AuditEvent.objects.using(encounter._state.db).get(action="encounter.finish", resource_id=encounter.id)
        assert encounter.requested_start < finish.occurred_at < claim.submitted_at
    upcoming = [e for alias in SHARDS for e in Encounter.objects.using(alias).filter(status=EncounterStatus.BOOKED)]
    assert len(upcoming) == 3 and all(e.requested_start > now for e in upcoming)
