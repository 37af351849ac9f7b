"""No N+1: every portal list page runs the same number of queries (over every database) for 2 rows
as for 12, and that number is pinned (session, user and persona reads included)."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.claims.models import Claim
from apps.encounters.notes.services import encounter_note_update
from apps.encounters.notes.validation import NoteChange
from tests.factories import EncounterFactory, PatientFactory, care_team_member, encounter_for

from .conftest import browser_for

pytestmark = pytest.mark.django_db(databases="__all__")

SMALL, LARGE = 2, 12


def queries_for(client, path: str) -> int:
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
        response = client.get(path)
    assert response.status_code == 200, path
    return sum(len(capture.captured_queries) for capture in captured)


def add_visits(lab, count: int) -> None:
    for index in range(count):
        encounter_for(lab["patient_record"], reason=f"Visit {index}")


def add_care_team_visits(lab, count: int) -> None:
    for index in range(count):
        patient = PatientFactory(bucket=3 if index % 2 else 1000)  # both shards
        care_team_member(patient, lab["clinician"])
        encounter_for(patient, reason=f"Visit {index}")


def add_finished_visits(lab, count: int) -> None:
    for index in range(count):
        EncounterFactory(patient=PatientFactory(bucket=3 if index % 2 else 1000))


def add_claims(lab, count: int) -> None:
    for index in range(count):
        encounter = EncounterFactory(patient=PatientFactory(bucket=3 if index % 2 else 1000))
        Claim(
            patient=encounter.patient, encounter=encounter, payer_code="ACME-HEALTH", total_amount=Decimal("10.00"),
            retention_class="standard", submitted_by_user_id=lab["billing"].pk, idempotency_key=uuid.uuid4().hex,
            request_fingerprint="0" * 64, submitted_at=timezone.now() - timedelta(minutes=index),
        ).save(using=encounter._state.db)  # fmt: skip


def add_note_revisions(lab, count: int) -> None:
    encounter = lab.setdefault("history_encounter", encounter_for(lab["patient_record"]))
    for _ in range(count):
        encounter.refresh_from_db()
        encounter_note_update(
            encounter_id=encounter.id, user=lab["clinician"], expected_version=encounter.note_version,
            change=NoteChange(text=f"Revision {uuid.uuid4().hex[:6]}", status="draft"),
        )  # fmt: skip


PAGES = {
    # page: (persona, path, add rows, pinned queries). A list page audits its read: one event per
    # shard on the page, 3 queries each (savepoint, insert, release); my visits has one shard.
    "my visits": ("patient", lambda lab: "/visits/", add_visits, 5 + 3),
    # The worklist reads each shard's care team first (an IN list the planner can index), then counts and fetches.
    "worklist": ("clinician", lambda lab: "/worklist", add_care_team_visits, 9 + 6),
    "ready to bill": ("billing", lambda lab: "/billing/ready", add_finished_visits, 7 + 6),
    "claims": ("billing", lambda lab: "/claims/", add_claims, 7 + 6),
    "note history": (
        "clinician", lambda lab: f"/encounters/{lab['history_encounter'].id}/history", add_note_revisions, 10,
    ),
}  # fmt: skip


@pytest.mark.parametrize("page", list(PAGES))
def test_list_page_queries_do_not_grow_with_rows(lab, page):
    persona, path, add_rows, pinned = PAGES[page]
    client = browser_for(lab[persona])
    add_rows(lab, SMALL)
    small = queries_for(client, path(lab))
    add_rows(lab, LARGE - SMALL)
    large = queries_for(client, path(lab))
    assert small == large, f"{page}: {small} queries for {SMALL} rows, {large} for {LARGE}"
    assert large <= pinned, f"{page}: {large} queries (pinned at {pinned})"
