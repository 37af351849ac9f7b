"""The participants of the runtime sequence catalog, as span names.

Every span the lab names after a participant takes its name from here, and ``validate_sequences``
reads the catalog's participant labels against the same members, so a diagram derived from a real
trace uses the catalog's words. The value is the label of the catalog's ``participant … as <label>``
line (``seed/runtime-sequence-catalog.md``); the last group are the lab's own components that sit
between two catalog participants (they appear in traces, not in the catalog's diagrams)."""

from __future__ import annotations

from enum import StrEnum


class Participant(StrEnum):
    # Scenario: Patient Books Encounter
    PATIENT_PERSONA = "Patient Persona"
    API_GATEWAY = "API Gateway"
    PATIENT_API_CONTROLLER = "Patient API Controller"
    PATIENT_ORCHESTRATOR = "Patient Orchestrator"
    SHARD_RESOLVER = "Shard Resolver"
    PATIENT_REPOSITORY_ADAPTER = "Patient Repository Adapter"
    SQL_SHARD_PRIMARY = "SQL Shard Primary"
    OUTBOX_WRITER = "Outbox Writer"
    EVENT_BUS = "Event Bus"
    METRICS_LOGS_TRACES = "Metrics/Logs/Traces"
    # Scenario: Clinician Documents Encounter
    CLINICIAN_PERSONA = "Clinician Persona"
    ENCOUNTER_API_CONTROLLER = "Encounter API Controller"
    ENCOUNTER_ORCHESTRATOR = "Encounter Orchestrator"
    COMMAND_VALIDATOR = "Command Validator"
    ENCOUNTER_REPOSITORY_ADAPTER = "Encounter Repository Adapter"
    SQL_TEMPORAL_HISTORY = "SQL Temporal History"
    AUDIT_LOGGER = "Audit Logger"
    TELEMETRY_INTERCEPTOR = "Telemetry Interceptor"
    # Scenario: Billing Submits Claim
    ADMIN_PERSONA = "Admin Persona"
    BILLING_SERVICE_API = "Billing Service API"
    BILLING_ORCHESTRATOR = "Billing Orchestrator"
    BILLING_REPOSITORY_ADAPTER = "Billing Repository Adapter"
    PROJECTION_WORKER = "Projection Worker"
    FINANCIAL_DASHBOARD = "Financial Dashboard"
    # Scenario: Chaos-Induced Failover
    SRE_OPERATOR = "SRE Operator"
    GITOPS_CONTROLLER = "GitOps Controller"
    CHAOS_TOOLING = "Chaos Tooling"
    SQL_PRIMARY = "SQL Primary"
    SQL_SECONDARY = "SQL Secondary"
    OBSERVABILITY_STACK = "Observability Stack"
    SLO_DASHBOARD = "SLO Dashboard"
    # The lab's own components (not catalog participants): the relay that carries Outbox Writer rows
    # to the Event Bus, the single writer that ships audit rows to the audit store, the hourly probes.
    OUTBOX_RELAY = "Outbox Relay"
    AUDIT_SHIPPER = "Audit Shipper"
    SYNTHETIC_PROBE = "Synthetic Probe"


# Components that are not catalog participants: a derived diagram folds their spans into the
# catalog participant they serve (see apps/probes/trace_sequences.py).
LAB_COMPONENTS = frozenset({Participant.OUTBOX_RELAY, Participant.AUDIT_SHIPPER, Participant.SYNTHETIC_PROBE})


def participant_of(label: str) -> Participant | None:
    """The member whose value is ``label`` (a catalog label or a span name), or None."""
    try:
        return Participant(label)
    except ValueError:
        return None
