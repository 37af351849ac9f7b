"""Admin pages of the clinical-notes and audit models render, and offer no way to edit audit rows."""

import pytest

from apps.audits.shipping import audit_events_ship
from apps.encounters.models import GlossaryTerm
from tests.factories import EncounterFactory, PatientFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_admin_pages_render(admin_client):
    encounter = EncounterFactory(patient=PatientFactory(bucket=900), reason="Rash")
    assert encounter._state.db == "shard_1"
    audit_events_ship(shard_alias="shard_1")
    for url in (
        "/admin/encounters/glossaryterm/",
        f"/admin/encounters/glossaryterm/{GlossaryTerm.objects.get(term='SOB').pk}/change/",
        "/admin/encounters/encounter/?shard=shard_1",
        f"/admin/encounters/encounter/{encounter.id}/change/",
        "/admin/audits/auditevent/?shard=shard_1",
        "/admin/audits/auditrecord/",
        "/admin/audits/auditchainhead/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert str(encounter.id) in admin_client.get("/admin/encounters/encounter/?shard=shard_1").content.decode()
    assert admin_client.get("/admin/audits/auditrecord/add/").status_code == 403


def test_note_fields_are_read_only_in_the_admin(admin_client):
    encounter = EncounterFactory(patient=PatientFactory(bucket=3))
    html = admin_client.get(f"/admin/encounters/encounter/{encounter.id}/change/").content.decode()
    assert 'name="note_text"' not in html and 'name="reason"' in html
