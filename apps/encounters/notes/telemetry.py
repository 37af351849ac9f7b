"""Telemetry of the clinical-notes flow: metrics and spans named after the seed's participants."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog
from prometheus_client import Counter, Histogram

from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.spans import correlation_attributes, participant_span

logger = structlog.get_logger(__name__)

# Span names = participants of "Scenario: Clinician Documents Encounter".
SPAN_API_CONTROLLER = Participant.ENCOUNTER_API_CONTROLLER
SPAN_VALIDATOR = Participant.COMMAND_VALIDATOR
SPAN_ORCHESTRATOR = Participant.ENCOUNTER_ORCHESTRATOR
SPAN_REPOSITORY = Participant.ENCOUNTER_REPOSITORY_ADAPTER
SPAN_TEMPORAL_HISTORY = Participant.SQL_TEMPORAL_HISTORY
SPAN_TELEMETRY = Participant.TELEMETRY_INTERCEPTOR

ENCOUNTER_NOTE_UPDATE_DURATION = Histogram(
    "encounter_note_update_duration",
    "Seconds to handle PATCH /api/encounters/{id}/notes, by outcome, shard and actor role.",
    ["outcome", "shard_id", "actor_role"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ENCOUNTER_NOTE_ACCESS_DENIED_TOTAL = Counter(
    "encounter_note_access_denied_total",
    "Note reads or changes refused by the role and row-level checks (each one is audited).",
    ["operation", "actor_role"],
)
NOTE_REDACTIONS_TOTAL = Counter(
    "encounter_note_redactions_total", "Identifiers masked in clinical notes, by kind.", ["kind"]
)
NOTE_GLOSSARY_FINDINGS_TOTAL = Counter(
    "encounter_note_glossary_findings_total", "Glossary terms normalised or flagged in clinical notes.", ["action"]
)
TEMPORAL_HISTORY_WRITE_FAILURES_TOTAL = Counter(
    "temporal_history_write_failures_total",
    "Note updates aborted because the temporal history row could not be written (each one is an incident).",
    ["shard_id"],
)


def note_request_outcome(status_code: int) -> str:
    return {
        200: "success",
        404: "not_found",
        403: "forbidden",
        412: "version_conflict",
        428: "precondition_required",
        422: "missing_context",
        503: "unavailable",
    }.get(status_code, "client_error" if status_code < 500 else "error")


@dataclass
class NoteRequest:
    operation: str
    encounter_id: object = None
    status_code: int = 500


@contextmanager
def note_request_telemetry(*, operation: str, encounter_id=None) -> Iterator[NoteRequest]:
    """The controller span around one note request (API call or portal form), then the telemetry
    interceptor span that logs it and, for updates, observes ``encounter_note_update_duration``.
    The caller sets ``status_code`` (HTTP status, or the one its API twin would answer)."""
    started = time.perf_counter()
    request = NoteRequest(operation=operation, encounter_id=encounter_id)
    with participant_span(SPAN_API_CONTROLLER, operation=operation, encounter_id=encounter_id) as controller_span:
        yield request
        # Authentication and shard resolution happen inside: label the span afterwards.
        controller_span.set_attributes(correlation_attributes())
        controller_span.set_attribute("http.status_code", request.status_code)
        with participant_span(SPAN_TELEMETRY, operation=operation, status=request.status_code):
            _note_request_emit(request, time.perf_counter() - started)


def _note_request_emit(request: NoteRequest, seconds: float) -> None:
    correlation = context.current()
    logger.info(
        "encounter_note_request",
        operation=request.operation,
        status=request.status_code,
        encounter_id=str(request.encounter_id or ""),
        duration_ms=round(seconds * 1000, 2),
    )
    if request.operation == "update":
        ENCOUNTER_NOTE_UPDATE_DURATION.labels(
            outcome=note_request_outcome(request.status_code),
            shard_id=correlation["shard_id"] or "unknown",
            actor_role=correlation["actor_role"] or "anonymous",
        ).observe(seconds, exemplar={"trace_id": correlation["trace_id"]} if correlation["trace_id"] else None)
