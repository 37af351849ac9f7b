"""Each financial guardrail answers 403 naming its rule and leaves a guardrail_violation audit entry."""

from __future__ import annotations

import pytest

from apps.audits.models import AuditEvent
from apps.claims.models import AmountCeiling, Claim, StaffPatientRecord
from apps.core.models import Persona
from apps.outbox.models import OutboxEvent
from tests.claims.conftest import claim_body, post_claim

pytestmark = pytest.mark.django_db(databases="__all__")


def assert_refused(response, encounter, rule: str) -> AuditEvent:
    assert response.status_code == 403, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["rule"] == rule and body["title"] == "Guardrail violation" and body["remediation"]
    alias = encounter._state.db
    violations = AuditEvent.objects.using(alias).filter(outcome="guardrail_violation", action="claim.submit")
    assert violations.count() == 1
    audit = violations.get()
    assert audit.detail["rule"] == rule and audit.patient_id == encounter.patient_id
    assert audit.actor_role == "billing_admin" and audit.request_id
    return audit


def test_amount_over_the_role_ceiling(billing_admin, finished_encounter):
    AmountCeiling.objects.filter(role="billing_admin").update(max_claim_total="100.00")
    _user, client = billing_admin
    response = post_claim(client, claim_body(finished_encounter))  # 151.00
    audit = assert_refused(response, finished_encounter, "amount_ceiling")
    assert audit.detail["ceiling"] == "100.00"
    alias = finished_encounter._state.db
    assert not Claim.objects.using(alias).exists() and not OutboxEvent.objects.using(alias).exists()


def test_role_without_a_ceiling_may_submit_nothing(billing_admin, finished_encounter):
    AmountCeiling.objects.filter(role="billing_admin").delete()
    _user, client = billing_admin
    assert_refused(post_claim(client, claim_body(finished_encounter)), finished_encounter, "amount_ceiling")


def test_amount_at_the_ceiling_passes(billing_admin, finished_encounter):
    AmountCeiling.objects.filter(role="billing_admin").update(max_claim_total="151.00")
    _user, client = billing_admin
    assert post_claim(client, claim_body(finished_encounter)).status_code == 202


def test_second_claim_for_the_same_encounter(billing_admin, finished_encounter):
    _user, client = billing_admin
    first = post_claim(client, claim_body(finished_encounter))
    assert first.status_code == 202
    audit = assert_refused(post_claim(client, claim_body(finished_encounter)), finished_encounter, "duplicate_claim")
    assert audit.detail["existing_claim_id"] == first.json()["claim_id"]
    assert Claim.objects.using(finished_encounter._state.db).count() == 1


def test_admin_linked_to_the_patient_record(billing_admin, finished_encounter):
    user, client = billing_admin
    StaffPatientRecord.objects.create(user=user, patient_id=finished_encounter.patient_id)
    assert_refused(post_claim(client, claim_body(finished_encounter)), finished_encounter, "own_patient_record")


def test_admin_whose_persona_names_the_patient(billing_admin, finished_encounter):
    user, client = billing_admin
    Persona.objects.filter(user=user).update(patient_id=finished_encounter.patient_id)
    assert_refused(post_claim(client, claim_body(finished_encounter)), finished_encounter, "own_patient_record")


def test_admin_with_the_patients_email(billing_admin, finished_encounter):
    user, client = billing_admin
    patient = finished_encounter.patient
    patient.email = user.email.upper()
    patient.save(using=patient._state.db)
    assert_refused(post_claim(client, claim_body(finished_encounter)), finished_encounter, "own_patient_record")


def test_per_admin_rate_limit(billing_admin, settings):
    from tests.factories import EncounterFactory

    settings.PIMLAB_CLAIMS_RATE_LIMIT = 2
    settings.PIMLAB_CLAIMS_RATE_WINDOW_SECONDS = 3600
    _user, client = billing_admin
    encounters = [EncounterFactory() for _ in range(3)]
    assert post_claim(client, claim_body(encounters[0])).status_code == 202
    assert post_claim(client, claim_body(encounters[1])).status_code == 202
    response = post_claim(client, claim_body(encounters[2]))
    assert_refused(response, encounters[2], "rate_limit")
    assert int(response["Retry-After"]) > 0


def test_rate_limit_counts_per_admin(billing_admin, settings):
    from tests.factories import EncounterFactory, persona_user
    from tests.support.api import api_client

    settings.PIMLAB_CLAIMS_RATE_LIMIT = 1
    settings.PIMLAB_CLAIMS_RATE_WINDOW_SECONDS = 3600
    _user, client = billing_admin
    _other, other_token = persona_user("billing_admin")
    assert post_claim(client, claim_body(EncounterFactory())).status_code == 202
    assert post_claim(api_client(other_token), claim_body(EncounterFactory())).status_code == 202


def test_idempotent_replay_is_not_a_duplicate_or_rate_limited(billing_admin, finished_encounter, settings):
    settings.PIMLAB_CLAIMS_RATE_LIMIT = 1
    _user, client = billing_admin
    assert post_claim(client, claim_body(finished_encounter), key="k-replay").status_code == 202
    again = post_claim(client, claim_body(finished_encounter), key="k-replay")
    assert again.status_code == 202 and again.json()["replayed"] is True


def test_violation_counter_is_exported(billing_admin, finished_encounter):
    from prometheus_client import REGISTRY

    AmountCeiling.objects.filter(role="billing_admin").update(max_claim_total="1.00")
    labels = {"rule": "amount_ceiling", "shard_id": finished_encounter._state.db, "actor_role": "billing_admin"}
    before = REGISTRY.get_sample_value("claim_guardrail_violations_total", labels) or 0
    _user, client = billing_admin
    post_claim(client, claim_body(finished_encounter))
    assert REGISTRY.get_sample_value("claim_guardrail_violations_total", labels) == before + 1


def test_rate_limit_without_redis_counts_in_process_per_window(settings):
    from apps.claims.guardrails import GuardrailViolation, rate_limit_check
    from apps.core.actors import Actor

    settings.PIMLAB_REDIS_URL = ""
    settings.PIMLAB_CLAIMS_RATE_LIMIT = 2
    settings.PIMLAB_CLAIMS_RATE_WINDOW_SECONDS = 60
    actor = Actor(user_id=987654, role="billing_admin")
    rate_limit_check(actor=actor, now=6000.0)
    rate_limit_check(actor=actor, now=6030.0)
    with pytest.raises(GuardrailViolation) as refused:
        rate_limit_check(actor=actor, now=6059.0)
    assert refused.value.rule == "rate_limit" and refused.value.retry_after_seconds == 1
    rate_limit_check(actor=actor, now=6060.0)  # a new window
