"""Patient pages through Django's test client: booking goes through encounter_book like the API."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.encounters.models import Encounter
from apps.outbox.models import OutboxEvent
from tests.factories import encounter_for

from .conftest import browser_for

pytestmark = pytest.mark.django_db(databases="__all__")


def form_body(**overrides) -> dict:
    body = {
        "encounter_type": "telehealth",
        "reason": "Cough for two weeks",
        "requested_start": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "idempotency_key": uuid.uuid4().hex,
    }
    body.update(overrides)
    return body


def test_book_form_carries_a_fresh_server_key_and_a_picker_that_refuses_the_past(lab):
    client = browser_for(lab["patient"])
    first = client.get("/visits/book").content.decode()
    second = client.get("/visits/book").content.decode()
    assert 'type="datetime-local"' in first and 'min="' in first
    key = first.split('name="idempotency_key" value="')[1].split('"')[0]
    assert len(key) == 32 and key not in second


def test_double_submit_books_once_and_lands_on_the_same_confirmation(lab):
    client = browser_for(lab["patient"])
    body = form_body()
    first = client.post("/visits/book", body)
    second = client.post("/visits/book", body)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    encounters = Encounter.objects.using("shard_0").filter(patient=lab["patient_record"])
    assert encounters.count() == 1
    page = client.get(first["Location"]).content.decode()
    event = OutboxEvent.objects.using("shard_0").get(event_type="EncounterCreated")
    assert f'id="tracking-id">{event.id}<' in page and "accepted" in page


def test_a_past_slot_is_refused_next_to_the_field_and_the_answers_are_kept(lab):
    client = browser_for(lab["patient"])
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/visits/book", form_body(requested_start=past, reason="Knee pain"))
    html = response.content.decode()
    assert response.status_code == 422
    assert "There is a problem" in html and "<title>Error: Book a visit" in html
    assert 'id="id_requested_start-error"' in html and "must be in the future" in html
    assert "Knee pain" in html and past in html
    assert not Encounter.objects.using("shard_0").exists()


def test_missing_answers_are_named_in_plain_words(lab):
    response = browser_for(lab["patient"]).post("/visits/book", form_body(reason="", requested_start=""))
    html = response.content.decode()
    assert response.status_code == 422
    assert "Enter the reason for your visit" in html and "Enter the date and time" in html
    assert 'href="#id_reason"' in html


def test_my_visits_lists_only_my_visits_with_tracking_ids(lab):
    mine = encounter_for(lab["patient_record"], reason="Mine")
    encounter_for(lab["other_record"], reason="Not mine")
    html = browser_for(lab["patient"]).get("/visits/").content.decode()
    assert "Mine" in html and "Not mine" not in html and f"/visits/{mine.id}" in html


def test_a_visit_of_another_patient_is_not_found(lab):
    theirs = encounter_for(lab["other_record"])
    response = browser_for(lab["patient"]).get(f"/visits/{theirs.id}")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_released_note_is_readable_and_its_read_is_audited(lab):
    encounter = encounter_for(
        lab["patient_record"], note_text="Rest and fluids.", note_status="signed", note_released=True
    )
    html = browser_for(lab["patient"]).get(f"/visits/{encounter.id}").content.decode()
    assert "Rest and fluids." in html
    read = AuditEvent.objects.using("shard_0").get(resource_id=encounter.id, actor_user_id=lab["patient"].pk)
    assert read.action == "encounter.read" and read.detail["note_shown"] is True


def test_status_partial_stops_polling_once_published(lab):
    client = browser_for(lab["patient"])
    location = client.post("/visits/book", form_body())["Location"]
    pending = client.get(f"{location}/status")
    assert pending.status_code == 200 and "hx-trigger" in pending.content.decode()
    OutboxEvent.objects.using("shard_0").update(status="published")
    published = client.get(f"{location}/status")
    assert published.status_code == 286 and "published" in published.content.decode()


@pytest.mark.parametrize("path", ["/visits/", "/visits/book"])
def test_patient_pages_refuse_other_personas_with_the_portal_403_page(lab, path):
    response = browser_for(lab["billing"]).get(path)
    assert response.status_code == 403
    assert "You cannot open this page" in response.content.decode()


def test_a_form_without_its_key_is_explained_not_ignored(lab):
    response = browser_for(lab["patient"]).post("/visits/book", form_body(idempotency_key=""))
    assert response.status_code == 422 and "This form has expired" in response.content.decode()
    assert not Encounter.objects.using("shard_0").exists()
