"""Personas for portal tests: a patient on shard_0 with a care-team clinician, a second clinician
on the same care team, a billing admin. Passwords are the browser helper's demo password."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.core.models import PersonaRole
from tests.factories import PatientFactory, care_team_member, persona_user
from tests.support.browser import DEMO_PASSWORD
from tests.support.bus import redis_flush
from tests.support.claims import ensure_reference_data

SHARD_0_BUCKET = 3


def with_password(user):
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    return user


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def lab():
    """A small lab: one patient (MRN like the seed's) with two care-team clinicians, a stranger
    clinician, another patient and a billing admin."""
    ensure_reference_data()
    redis_flush()
    patient = PatientFactory(bucket=SHARD_0_BUCKET, mrn="LAB0000042", given_name="Ada", family_name="Lovelace")
    other = PatientFactory(bucket=1000, mrn="LAB0000043")
    people = {
        "patient": with_password(persona_user(PersonaRole.PATIENT, patient=patient, username="ada.patient")[0]),
        "other_patient": with_password(persona_user(PersonaRole.PATIENT, patient=other, username="bob.patient")[0]),
        "clinician": with_password(persona_user(PersonaRole.CLINICIAN, username="dr.grey")[0]),
        "clinician2": with_password(persona_user(PersonaRole.CLINICIAN, username="dr.house")[0]),
        "stranger": with_password(persona_user(PersonaRole.CLINICIAN, username="dr.who")[0]),
        "billing": with_password(persona_user(PersonaRole.BILLING_ADMIN, username="billing.bea")[0]),
        "sre": with_password(persona_user(PersonaRole.SRE, username="sre.sam")[0]),
    }
    care_team_member(patient, people["clinician"])
    care_team_member(patient, people["clinician2"])
    people["patient_record"] = patient
    people["other_record"] = other
    yield people
    redis_flush()
