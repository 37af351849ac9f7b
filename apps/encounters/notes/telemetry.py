"""Telemetry of the clinical-notes flow: metrics and spans named after the seed's participants."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from apps.telemetry.participants import Participant

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
