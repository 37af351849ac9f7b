"""Synthetic personas and patients the probes act as, one patient per shard (``probe_setup``).

Idempotent: users are keyed by fixed usernames, patients by a medical record number naming their
shard (``PROBE-shard_0`` …), care-team rows by (patient, clinician). Synthetic users have no usable
password; they authenticate with their API token only."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

from apps.core.actors import Actor
from apps.core.models import PersonaRole
from apps.core.resolver import shard_buckets
from apps.core.services import persona_user_ensure
from apps.core.tokens import api_token_issue
from apps.patients.models import Patient
from apps.patients.services import care_team_member_add, patient_create

from .models import ProbeTarget

PROBE_CLINICIAN_USERNAME = "probe-clinician"
PROBE_BILLING_USERNAME = "probe-billing"
PROBE_MRN_PREFIX = "PROBE-"
PROBE_TOKEN_TTL_MINUTES = 30


def probe_patient_username(shard_alias: str) -> str:
    return f"probe-patient-{shard_alias}"


def probe_mrn(shard_alias: str) -> str:
    return f"{PROBE_MRN_PREFIX}{shard_alias}"


@dataclass(frozen=True)
class ProbeIdentity:
    """What one probe needs to act on one shard: the patient and the three personas' tokens."""

    shard_alias: str
    patient_id: int
    patient_token: str
    clinician_token: str
    billing_token: str


def _probe_patient_ensure(shard_alias: str) -> Patient | None:
    existing = Patient.objects.using(shard_alias).filter(mrn=probe_mrn(shard_alias)).first()
    if existing is not None:
        return existing
    buckets = shard_buckets().get(shard_alias)
    if not buckets:  # a drained shard gets no synthetic patient (and no probes)
        return None
    return patient_create(
        mrn=probe_mrn(shard_alias),
        given_name="Synthetic",
        family_name=f"Probe {shard_alias}",
        birth_date=datetime.date(2000, 1, 1),
        email=f"{probe_patient_username(shard_alias)}@probes.invalid",
        bucket=buckets[0],
    )


def probe_personas_ensure() -> list[ProbeTarget]:
    """Create (or find) the synthetic personas and one synthetic patient on every shard."""
    clinician = persona_user_ensure(
        username=PROBE_CLINICIAN_USERNAME, role=PersonaRole.CLINICIAN, display_name="Synthetic probe clinician"
    ).user
    persona_user_ensure(
        username=PROBE_BILLING_USERNAME, role=PersonaRole.BILLING_ADMIN, display_name="Synthetic probe billing admin"
    )
    targets = []
    for alias in settings.SHARD_ALIASES:
        patient = _probe_patient_ensure(alias)
        if patient is None:
            continue
        patient_user = persona_user_ensure(
            username=probe_patient_username(alias),
            role=PersonaRole.PATIENT,
            display_name=f"Synthetic probe patient ({alias})",
            patient_id=patient.id,
        ).user
        care_team_member_add(actor=Actor.system("probe_setup"), patient_id=patient.id, clinician_user_id=clinician.pk)
        target, _ = ProbeTarget.objects.using("default").update_or_create(
            shard_alias=alias, defaults={"patient_id": patient.id, "patient_user_id": patient_user.pk}
        )
        targets.append(target)
    return targets


def probe_identities() -> list[ProbeIdentity]:
    """The identities of every shard that has a probe target (empty until ``probe_setup`` ran)."""
    # Tokens are stored hashed: each probe run gets fresh short-lived ones (expired ones are purged).
    ttl = datetime.timedelta(minutes=PROBE_TOKEN_TTL_MINUTES)
    staff = {
        user.username: user
        for user in get_user_model()
        .objects.using("default")
        .filter(username__in=[PROBE_CLINICIAN_USERNAME, PROBE_BILLING_USERNAME])
    }
    if len(staff) < 2:
        return []
    tokens = {username: api_token_issue(user=user, ttl=ttl) for username, user in staff.items()}
    patient_users = (
        get_user_model()
        .objects.using("default")
        .filter(pk__in=ProbeTarget.objects.using("default").values("patient_user_id"))
    )
    patient_tokens = {user.pk: api_token_issue(user=user, ttl=ttl) for user in patient_users}
    return [
        ProbeIdentity(
            shard_alias=target.shard_alias,
            patient_id=target.patient_id,
            patient_token=patient_tokens[target.patient_user_id],
            clinician_token=tokens[PROBE_CLINICIAN_USERNAME],
            billing_token=tokens[PROBE_BILLING_USERNAME],
        )
        for target in ProbeTarget.objects.using("default").all()
        if target.patient_user_id in patient_tokens
    ]
