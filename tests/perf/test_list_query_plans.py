"""List queries stay index range reads under a LIMIT as the shards grow: each list selector's SQL,
captured as the page runs it on a shard holding 30k grown encounters (``bench/growth_seed.py``,
then ANALYZE), is planned by PostgreSQL with the expected index, no sequential scan of the big
tables, and a Limit node (pages and counts are bounded)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.claims.selectors import claims_recent, encounters_ready_to_bill
from apps.core.actors import Actor
from apps.core.models import PersonaRole
from apps.core.pagination import paginate_across_shards
from apps.encounters.selectors import (
    WorklistScope,
    clinician_worklist,
    encounter_booking_events,
    encounters_visible_to,
    patient_encounters,
)
from bench.growth_seed import GROWN_USER_BASE, buckets_of, grow_outbox, grow_shard
from tests.factories import PatientFactory, care_team_member, encounter_for, persona_user

pytestmark = pytest.mark.django_db(databases="__all__")

SHARD = "shard_0"
GROWN = 30_000
BIG_TABLES = {"encounters_encounter", "claims_claim", "outbox_outboxevent"}
# Tables whose list queries must carry a LIMIT (an outbox read is bounded by the page's ids instead).
LIMITED_TABLES = {"encounters_encounter", "claims_claim"}


@pytest.fixture
def grown():
    """A patient and a clinician with a handful of visits on a shard of 30k grown encounters."""
    patient = PatientFactory(bucket=buckets_of(SHARD)[0])
    assert patient._state.db == SHARD
    clinician, _ = persona_user(PersonaRole.CLINICIAN)
    patient_user, _ = persona_user(PersonaRole.PATIENT, patient=patient)
    billing, _ = persona_user(PersonaRole.BILLING_ADMIN)
    care_team_member(patient, clinician)
    now = timezone.now()
    for day in range(-15, 15):
        encounter_for(patient, requested_start=now + timedelta(days=day, hours=1))
    with connections[SHARD].cursor() as cursor:
        grown = grow_shard(cursor, buckets=buckets_of(SHARD), start=0, stop=GROWN)
        assert grow_outbox(cursor) == GROWN
    assert grown["encounters"] == GROWN
    return {"patient": patient, "clinician": clinician, "patient_user": patient_user, "billing": billing}


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def list_plans(run) -> list[tuple[str, list[dict]]]:
    """(SQL, plan nodes) of every query ``run`` sends to the shard that reads a big table."""
    with CaptureQueriesContext(connections[SHARD]) as captured:
        run()
    plans = []
    with connections[SHARD].cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT") or not any(table in sql for table in BIG_TABLES):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            document = cursor.fetchone()[0]
            document = json.loads(document) if isinstance(document, str) else document
            plans.append((sql, list(plan_nodes(document[0]["Plan"]))))
    assert plans, "the selector sent no query to the grown shard"
    return plans


def assert_bounded_index_reads(plans, *, index: str) -> None:
    used = set()
    for sql, nodes in plans:
        scans = [node for node in nodes if node.get("Relation Name") in BIG_TABLES]
        seq = [node["Relation Name"] for node in scans if node["Node Type"] == "Seq Scan"]
        assert not seq, f"sequential scan of {seq} in:\n{sql}\n{nodes[0]}"
        if any(table in sql for table in LIMITED_TABLES):
            assert any(node["Node Type"] == "Limit" for node in nodes), f"no LIMIT in:\n{sql}"
        used |= {node["Index Name"] for node in nodes if "Index Name" in node}
    assert index in used, f"{index} not used (indexes used: {sorted(used)})"


def test_my_visits_reads_the_patient_start_index(grown):
    plans = list_plans(lambda: patient_encounters(patient_id=grown["patient"].id))
    assert_bounded_index_reads(plans, index="encounter_patient_start_idx")


def test_my_visits_booking_events_read_the_aggregate_index(grown):
    encounters = patient_encounters(patient_id=grown["patient"].id)
    plans = list_plans(lambda: encounter_booking_events(encounters=encounters))
    assert_bounded_index_reads(plans, index="outbox_aggregate_type_idx")


@pytest.mark.parametrize("scope", [WorklistScope.UNFINISHED, WorklistScope.UPCOMING, WorklistScope.ALL])
def test_worklist_reads_the_clinician_and_patient_indexes(grown, scope):
    def page():
        return paginate_across_shards(
            clinician_worklist(clinician_user_id=grown["clinician"].pk, scope=scope),
            key=lambda encounter: (encounter.requested_start, encounter.id),
            number=1,
            per_page=20,
        )

    plans = list_plans(page)
    assert_bounded_index_reads(plans, index="encounter_clin_status_idx")
    assert_bounded_index_reads(plans, index="encounter_patient_start_idx")


def test_clinician_encounter_list_reads_the_clinician_index(grown):
    actor = Actor.from_user(grown["clinician"])
    plans = list_plans(lambda: encounters_visible_to(actor=actor))
    assert_bounded_index_reads(plans, index="encounter_clin_status_idx")


def test_billing_encounter_list_reads_the_finished_index(grown):
    actor = Actor.from_user(grown["billing"])
    plans = list_plans(lambda: encounters_visible_to(actor=actor))
    assert_bounded_index_reads(plans, index="encounter_finished_idx")


def test_ready_to_bill_reads_the_finished_index(grown):
    def page():
        return paginate_across_shards(
            encounters_ready_to_bill(), key=lambda e: (e.requested_start, e.id), number=1, per_page=20
        )

    plans = list_plans(page)
    assert_bounded_index_reads(plans, index="encounter_finished_idx")


def test_claims_list_reads_the_submitted_index(grown):
    def page():
        return paginate_across_shards(
            claims_recent(), key=lambda c: (-c.submitted_at.timestamp(), -c.id), number=1, per_page=20
        )

    plans = list_plans(page)
    assert_bounded_index_reads(plans, index="claim_submitted_id_idx")


def test_list_counts_stop_at_the_count_limit(grown):
    page = paginate_across_shards(
        encounters_ready_to_bill(), key=lambda e: (e.requested_start, e.id), number=10_000, per_page=20, count_limit=100
    )
    assert page.total == 100 and page.total_capped
    assert page.number == 5 and len(page.rows) == 20


def test_grown_rows_live_on_the_shard_their_ids_name(grown):
    """The seeding writes rows the app can route: every id names the shard it sits on, each
    encounter's patient and each claim's encounter exist there, claims are on finished visits."""
    from apps.core.resolver import shard_for_id

    with connections[SHARD].cursor() as cursor:
        cursor.execute(
            "SELECT e.id, e.patient_id, c.id FROM encounters_encounter e JOIN patients_patient p ON p.id = e.patient_id"
            " LEFT JOIN claims_claim c ON c.encounter_id = e.id AND c.patient_id = e.patient_id"
            " WHERE e.booked_by_user_id = %s ORDER BY random() LIMIT 200",
            [GROWN_USER_BASE],
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM claims_claim c JOIN encounters_encounter e ON e.id = c.encounter_id"
            " WHERE c.submitted_by_user_id = %s AND e.status <> 'finished'",
            [GROWN_USER_BASE],
        )
        claims_on_unfinished = cursor.fetchone()[0]
    assert len(rows) == 200
    assert {shard_for_id(row_id) for row in rows for row_id in row if row_id is not None} == {SHARD}
    assert any(row[2] is not None for row in rows) and any(row[2] is None for row in rows)
    assert claims_on_unfinished == 0
