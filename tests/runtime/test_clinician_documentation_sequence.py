"""One note update produces the span sequence of the seed's "Clinician Documents Encounter" diagram."""

import pytest

from apps.telemetry.tracing import span_store
from tests.encounters.notes.note_scenario import note_world, patch_note
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")

SEED_PARTICIPANTS_IN_ORDER = [
    "API Gateway",
    "Encounter API Controller",
    "Command Validator",
    "Encounter Orchestrator",
    "Encounter Repository Adapter",
    "SQL Temporal History",
    "Audit Logger",
    "Telemetry Interceptor",
]
LABELS = ("request_id", "user_id", "persona", "actor_role", "shard_id")


def _attr(span, name):
    return (span.attributes or {}).get(name)


def test_note_update_span_sequence_matches_the_seed_diagram():
    world = note_world()
    client = api_client(world.tokens["care_team_clinician"])
    span_store.clear()
    response = patch_note(client, world.encounter.id, {"text": "Reviewed labs, HTN controlled."})
    assert response.status_code == 200, response.content

    controller = [s for s in span_store.spans() if s.name == "Encounter API Controller"]
    assert len(controller) == 1
    trace = span_store.trace(controller[0].context.trace_id)
    names = [s.name for s in trace]
    first_seen = [name for name in SEED_PARTICIPANTS_IN_ORDER if name in names]
    assert first_seen == SEED_PARTICIPANTS_IN_ORDER, names
    ordered = sorted((s for s in trace if s.name in SEED_PARTICIPANTS_IN_ORDER), key=lambda s: (s.start_time, s.name))
    assert [s.name for s in ordered] == SEED_PARTICIPANTS_IN_ORDER

    by_name = {s.name: s for s in ordered}
    # Nesting as in the diagram: the repository writes the temporal row; the orchestrator records the audit.
    assert by_name["SQL Temporal History"].parent.span_id == by_name["Encounter Repository Adapter"].context.span_id
    assert by_name["Encounter Repository Adapter"].parent.span_id == by_name["Encounter Orchestrator"].context.span_id
    assert by_name["Audit Logger"].parent.span_id == by_name["Encounter Orchestrator"].context.span_id
    assert by_name["Command Validator"].parent.span_id == by_name["Encounter API Controller"].context.span_id
    # The gateway (authentication, routing) wraps the controller, under the HTTP server span.
    assert by_name["Encounter API Controller"].parent.span_id == by_name["API Gateway"].context.span_id
    assert by_name["API Gateway"].attributes["http.route"] == "api/encounters/<int:encounter_id>/notes"

    for name in SEED_PARTICIPANTS_IN_ORDER:
        span = by_name[name]
        for label in LABELS:
            assert _attr(span, label), f"{name} lacks {label}"
        assert _attr(span, "actor_role") == "clinician"
        assert _attr(span, "shard_id") == world.encounter._state.db
    # The SQL of the write path is traced under the repository and audit spans.
    sql_spans = [
        s for s in trace if s.parent is not None and s.parent.span_id == by_name["SQL Temporal History"].context.span_id
    ]
    assert sql_spans, "no database span under SQL Temporal History"
