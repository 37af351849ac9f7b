"""The admin renders every foundation model for a superuser, one shard at a time."""

import pytest
from django.urls import reverse

from apps.core.models import Persona, ShardMapEntry
from apps.patients.models import CareTeamMember, Patient
from tests.factories import PatientFactory, care_team_member, persona_user

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def lab():
    low, high = PatientFactory(bucket=3, mrn="MRNLOW0001"), PatientFactory(bucket=1010, mrn="MRNHIGH001")
    clinician, _ = persona_user("clinician", username="doc")
    persona_user("patient", patient=high, username="pat-high")
    return {
        "low": low,
        "high": high,
        "low_member": care_team_member(low, clinician),
        "high_member": care_team_member(high, clinician),
    }


def test_the_admin_index_lists_the_foundation_models(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    for name in ("Patients", "Care team members", "Personas", "Shard map"):
        assert name in html


@pytest.mark.parametrize(("shard", "shown", "hidden"), [("shard_0", "low", "high"), ("shard_1", "high", "low")])
def test_the_patient_list_shows_one_shard_at_a_time(admin_client, lab, shard, shown, hidden):
    response = admin_client.get(reverse("admin:patients_patient_changelist"), {"shard": shard})
    assert response.status_code == 200
    html = response.content.decode()
    assert lab[shown].mrn in html and lab[hidden].mrn not in html


def test_the_patient_list_defaults_to_the_first_shard(admin_client, lab):
    html = admin_client.get(reverse("admin:patients_patient_changelist")).content.decode()
    assert lab["low"].mrn in html and lab["high"].mrn not in html


@pytest.mark.parametrize("which", ["low", "high"])
def test_a_patient_opens_by_id_on_its_shard(admin_client, lab, which):
    patient = lab[which]
    response = admin_client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert patient.mrn in html and str(lab["low_member"].clinician_user_id) in html


def test_an_edit_in_the_admin_is_saved_on_the_patients_shard(admin_client, lab):
    patient = lab["high"]
    url = reverse("admin:patients_patient_change", args=[patient.id])
    form = {
        "mrn": patient.mrn,
        "given_name": "Edited",
        "family_name": patient.family_name,
        "birth_date": patient.birth_date.isoformat(),
        "sex": "female",
        "phone": "",
        "email": "",
        "care_team-TOTAL_FORMS": "1",
        "care_team-INITIAL_FORMS": "1",
        "care_team-0-id": str(lab["high_member"].id),
        "care_team-0-patient": str(patient.id),
        "care_team-0-clinician_user_id": str(lab["high_member"].clinician_user_id),
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Patient.objects.using("shard_1").get(pk=patient.id).given_name == "Edited"
    assert not Patient.objects.using("shard_0").filter(pk=patient.id).exists()


def test_care_team_members_filter_by_shard_and_open_by_id(admin_client, lab):
    url = reverse("admin:patients_careteammember_changelist")
    html_1 = admin_client.get(url, {"shard": "shard_1"}).content.decode()
    assert str(lab["high_member"].id) in html_1 and str(lab["low_member"].id) not in html_1
    member = lab["high_member"]
    response = admin_client.get(reverse("admin:patients_careteammember_change", args=[member.id]))
    assert response.status_code == 200
    assert str(member.patient_id) in response.content.decode()


def test_adding_a_care_team_member_from_the_admin_lands_on_the_patients_shard(admin_client, lab):
    url = reverse("admin:patients_careteammember_add") + "?_changelist_filters=shard%3Dshard_1"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"patient": str(lab["high"].id), "clinician_user_id": "4242"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CareTeamMember.objects.using("shard_1").filter(patient=lab["high"], clinician_user_id=4242).exists()


def test_deleting_a_care_team_member_asks_then_deletes_on_its_shard(admin_client, lab):
    member = lab["low_member"]
    url = reverse("admin:patients_careteammember_delete", args=[member.id])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not CareTeamMember.objects.using("shard_0").filter(pk=member.id).exists()


def test_an_unknown_id_is_a_not_found_redirect_not_an_error(admin_client, lab):
    response = admin_client.get(reverse("admin:patients_patient_change", args=["not-an-id"]))
    assert response.status_code == 302


def test_personas_and_shard_map_render(admin_client, lab):
    html = admin_client.get(reverse("admin:core_persona_changelist")).content.decode()
    assert "pat-high" in html or "patient pat-high" in html
    persona = Persona.objects.get(user__username="pat-high")
    assert admin_client.get(reverse("admin:core_persona_change", args=[persona.pk])).status_code == 200
    html = admin_client.get(reverse("admin:core_shardmapentry_changelist")).content.decode()
    assert "shard_0" in html and "shard_1" in html
    entry = ShardMapEntry.objects.first()
    assert admin_client.get(reverse("admin:core_shardmapentry_change", args=[entry.pk])).status_code == 200


def test_a_patients_history_lists_its_versions_from_its_shard(admin_client, lab):
    patient = lab["high"]
    patient.family_name = "Changedname"
    patient.save()
    response = admin_client.get(reverse("admin:patients_patient_history", args=[patient.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Changedname" in html
    version = Patient.history.model.objects.using("shard_1").filter(id=patient.id).earliest("history_date")
    url = reverse("admin:patients_patient_simple_history", args=[patient.id, version.history_id])
    response = admin_client.get(url)
    assert response.status_code == 200 and patient.mrn in response.content.decode()


def test_a_shard_map_edit_in_the_admin_takes_effect_in_this_process(admin_client, lab):
    from apps.core.resolver import shard_for_bucket

    assert shard_for_bucket(100) == "shard_0"
    entry = ShardMapEntry.objects.get(shard_alias="shard_0")
    url = reverse("admin:core_shardmapentry_change", args=[entry.pk])
    form = {"bucket_start": "0", "bucket_end": "511", "shard_alias": "shard_1", "note": "moved"}
    assert admin_client.post(url, form).status_code == 302
    assert shard_for_bucket(100) == "shard_1"


def test_the_admin_refuses_an_overlapping_or_unknown_shard_map_entry(admin_client, lab):
    url = reverse("admin:core_shardmapentry_add")
    response = admin_client.post(url, {"bucket_start": "500", "bucket_end": "600", "shard_alias": "shard_1"})
    assert response.status_code == 200 and "overlaps" in response.content.decode()
    response = admin_client.post(url, {"bucket_start": "0", "bucket_end": "1", "shard_alias": "shard_9"})
    assert response.status_code == 200 and "Unknown shard" in response.content.decode()
    assert ShardMapEntry.objects.count() == 2
