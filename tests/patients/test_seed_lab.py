"""seed_lab: spread over every shard, idempotent, deterministic; persona_tokens and lab_banner."""

import io

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from knox.crypto import hash_token
from knox.models import AuthToken

from apps.core.models import Persona, PersonaRole
from apps.core.personas import DEMO_PASSWORDS
from apps.core.resolver import shard_for_id
from apps.patients.models import CareTeamMember, Patient

pytestmark = pytest.mark.django_db(databases="__all__")


def seed(patients: int, seed_value: int) -> str:
    out = io.StringIO()
    call_command("seed_lab", patients=patients, seed=seed_value, stdout=out)
    return out.getvalue()


def patients_by_shard() -> dict[str, list[Patient]]:
    return {alias: list(Patient.objects.using(alias).order_by("mrn")) for alias in settings.SHARD_ALIASES}


def snapshot() -> dict:
    people = {
        p.mrn: (p.given_name, p.family_name, p.birth_date, p.sex, alias)
        for alias, patients in patients_by_shard().items()
        for p in patients
    }
    care = {
        alias: sorted(CareTeamMember.objects.using(alias).values_list("patient__mrn", "clinician_user_id"))
        for alias in settings.SHARD_ALIASES
    }
    users = sorted(get_user_model().objects.values_list("username", "persona__role", "is_staff"))
    return {"people": people, "care": care, "users": users}


def test_seed_spreads_patients_over_every_shard_with_care_teams_and_personas():
    output = seed(24, 5)
    by_shard = patients_by_shard()
    assert {alias: len(rows) for alias, rows in by_shard.items()} == {"shard_0": 12, "shard_1": 12}
    for alias, rows in by_shard.items():
        for patient in rows:
            assert shard_for_id(patient.id) == alias, "every patient id names the shard it is stored on"
            assert CareTeamMember.objects.using(alias).filter(patient=patient).exists()
    counts = {role: Persona.objects.filter(role=role).count() for role in PersonaRole.values}
    assert counts == {"patient": 24, "clinician": 2, "billing_admin": 2, "sre": 2, "operator": 1}  # two SREs: four-eyes
    # Tokens are hashed, so seeding makes none; `persona_tokens` issues one per persona user.
    assert AuthToken.objects.count() == 0
    call_command("persona_tokens", stdout=io.StringIO())
    assert (
        AuthToken.objects.count() == Persona.objects.count() == 31
    )  # 24 patients, 2 clinicians, 2 billing, 2 SREs, 1 operator
    # Each patient persona is linked to its own patient record, which exists on the shard its id names.
    for persona in Persona.objects.filter(role=PersonaRole.PATIENT):
        assert Patient.objects.using(shard_for_id(persona.patient_id)).filter(pk=persona.patient_id).exists()
    assert len(set(Persona.objects.filter(role="patient").values_list("patient_id", flat=True))) == 24
    # Clinicians in care-team rows are real clinician users.
    clinician_ids = set(Persona.objects.filter(role="clinician").values_list("user_id", flat=True))
    for alias in settings.SHARD_ALIASES:
        assert set(CareTeamMember.objects.using(alias).values_list("clinician_user_id", flat=True)) <= clinician_ids
    assert "patients 24/24" in output and "24 new patients" in output


def test_seed_twice_creates_nothing_new():
    seed(30, 1)
    before = snapshot()
    tokens_before = dict(AuthToken.objects.values_list("user__username", "digest"))
    output = seed(30, 1)
    assert snapshot() == before
    assert dict(AuthToken.objects.values_list("user__username", "digest")) == tokens_before
    assert "0 new patients" in output and "30 already present" in output and "0 users" in output


def test_a_larger_second_run_only_adds_the_missing_patients():
    seed(10, 1)
    first_ids = {p.mrn: p.id for rows in patients_by_shard().values() for p in rows}
    seed(16, 1)
    now = {p.mrn: p.id for rows in patients_by_shard().values() for p in rows}
    assert len(now) == 16 and all(now[mrn] == pid for mrn, pid in first_ids.items())


def wipe_lab():
    for alias in settings.SHARD_ALIASES:
        CareTeamMember.objects.using(alias).all().delete()
        Patient.objects.using(alias).all().delete()
    get_user_model().objects.all().delete()


def test_the_same_seed_gives_the_same_people_and_another_seed_different_ones():
    seed(12, 7)
    first = snapshot()
    wipe_lab()
    seed(12, 7)
    again = snapshot()
    assert again["people"] == first["people"]
    assert again["users"] == first["users"]
    wipe_lab()
    seed(12, 8)
    other = snapshot()
    assert set(other["people"]) == set(first["people"]), "record numbers do not depend on the seed"
    assert other["people"] != first["people"], "names and birth dates do"


def test_persona_users_log_in_with_the_demo_passwords():
    seed(2, 0)
    for username, role in (("patient0001", "patient"), ("clinician01", "clinician"), ("operator", "operator")):
        user = get_user_model().objects.get(username=username)
        assert user.check_password(DEMO_PASSWORDS[role])
    operator = get_user_model().objects.get(username="operator")
    # Staff with the permissions of the job, not a superuser (issue 13: superuser personas could
    # edit drill governance in the admin).
    assert operator.is_staff and not operator.is_superuser


def test_seed_creates_two_sres_and_staff_personas_with_model_permissions_only():
    seed(2, 0)
    User = get_user_model()
    sres = User.objects.filter(persona__role="sre").order_by("username")
    assert [u.username for u in sres] == ["sre", "sre2"]  # an author and an approver for four-eyes
    assert not User.objects.filter(is_superuser=True).exists()
    operator = User.objects.get(username="operator")
    assert operator.has_perm("outbox.change_outboxevent") and operator.has_perm("outbox.view_outboxevent")
    assert not operator.has_perm("chaos.change_experimentrevision")
    for sre in sres:
        assert sre.is_staff and sre.has_perm("chaos.view_experimentrevision")
        assert sre.has_perm("chaos.change_chaosswitch") and not sre.has_perm("chaos.change_experimentrevision")


def test_persona_tokens_prints_every_persona_with_role_and_token():
    seed(3, 0)
    out = io.StringIO()
    call_command("persona_tokens", stdout=out)
    text = out.getvalue()
    for persona in Persona.objects.select_related("user"):
        line = next(line for line in text.splitlines() if line.startswith(persona.user.username + " "))
        printed = line.split()[-1]
        # The printed token is valid for this user, and only its digest is stored.
        stored = AuthToken.objects.get(digest=hash_token(printed))
        assert persona.role in line and stored.user_id == persona.user_id and printed not in stored.digest
    clinicians_only = io.StringIO()
    call_command("persona_tokens", role="clinician", stdout=clinicians_only)
    assert "patient0001" not in clinicians_only.getvalue() and "clinician01" in clinicians_only.getvalue()


def test_lab_banner_prints_the_urls_and_logins():
    seed(2, 0)
    out = io.StringIO()
    call_command("lab_banner", base_url="http://127.0.0.1:9999", stdout=out)
    text = out.getvalue()
    for path in ("/admin/", "/metrics", "/healthz", "/readyz", "/api/schema/", "/api/docs/"):
        assert f"http://127.0.0.1:9999{path}" in text
    for password in DEMO_PASSWORDS.values():
        assert password in text
    assert "operator" in text and "patient0001" in text


def test_seed_rejects_a_non_positive_count():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        seed(0, 0)


def test_seed_builds_a_shard_map_when_the_catalog_has_none():
    from apps.core.models import ShardMapEntry

    ShardMapEntry.objects.all().delete()
    seed(4, 0)
    assert ShardMapEntry.objects.count() == 2
    assert {alias: len(rows) for alias, rows in patients_by_shard().items()} == {"shard_0": 2, "shard_1": 2}
