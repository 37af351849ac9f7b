"""Sequence diagrams derived from recorded traces, compared with the runtime sequence catalog.

A recorded trace (the shared trace store's span dicts, every process included) becomes the
scenario's participants and messages: each span named after a participant of the scenario is a
message from its nearest participant ancestor (the caller — the scenario's persona — for the first),
in start order. Spans between two participants (HTTP server spans, SQL statements, Celery task
spans, the lab's own relay and shipper) are folded into their parent, as are participants the
scenario's diagram does not declare (the relay's Event Bus in the claim scenario).

Drift is (a) a traced participant of the catalog's diagram missing from the trace, and (b) two
participants whose first appearance comes in the other order than in the catalog's messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apps.telemetry.participants import LAB_COMPONENTS, Participant, participant_of

from .sequence_catalog import Scenario


@dataclass
class DerivedSequence:
    scenario: str
    trace_ids: list[str]
    participants: list[str] = field(default_factory=list)
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (source, target, text)
    folded: list[str] = field(default_factory=list)


@dataclass
class SequenceDrift:
    scenario: str
    missing: list[str]
    order: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.order


def catalog_order(scenario: Scenario) -> list[str]:
    """Participant labels in order of first appearance in the catalog's messages."""
    label = {p.alias: p.label for p in scenario.participants}
    seen: dict[str, None] = {}
    for message in scenario.messages:
        for end in (message.source, message.target):
            seen.setdefault(label[end], None)
    return list(seen)


_ENTRY = re.compile(r"^(?P<method>GET|POST|PUT|PATCH|DELETE)\s+(?P<path>/\S*)")


def _path_shape(path: str) -> str:
    """``/encounters/{id}/notes`` and ``api/encounters/<int:encounter_id>/notes`` -> ``encounters/*/notes``."""
    path = path.strip("/").removeprefix("api/")
    return re.sub(r"\{[^}]*\}|<[^>]*>", "*", path)


def scenario_request(spans: list[dict], scenario: Scenario) -> list[dict]:
    """The spans of the scenario's own request: the API Gateway span of the catalog's first message
    (method and path) and its descendants in every process. A probe walks earlier steps first (a
    claim needs a booked, finished visit); they are not part of this scenario's diagram."""
    entry = _ENTRY.match(scenario.messages[0].text) if scenario.messages else None
    if entry is None:
        return spans
    gateways = [
        span
        for span in spans
        if span["name"] == Participant.API_GATEWAY
        and span["attributes"].get("http.method", entry["method"]) == entry["method"]
        and _path_shape(str(span["attributes"].get("http.route", ""))) == _path_shape(entry["path"])
    ]
    if not gateways:
        return []
    root = max(gateways, key=lambda span: span["start_ns"])
    children: dict[str, list[dict]] = {}
    for span in spans:
        children.setdefault(span.get("parent_id") or "", []).append(span)
    subtree, pending = [], [root]
    while pending:
        span = pending.pop()
        subtree.append(span)
        pending.extend(children.get(span["span_id"], []))
    return subtree


def sequence_derive(scenario: Scenario, spans: list[dict], *, caller: str, trace_ids: list[str]) -> DerivedSequence:
    spans = scenario_request(spans, scenario)
    declared = {p.label for p in scenario.participants}
    by_id = {span["span_id"]: span for span in spans}
    derived = DerivedSequence(scenario=scenario.name, trace_ids=trace_ids, participants=[caller])
    folded: dict[str, None] = {}

    def is_participant(span: dict) -> bool:
        member = participant_of(span["name"])
        if member is None or member in LAB_COMPONENTS:
            return False
        if span["name"] not in declared:
            folded.setdefault(span["name"], None)
            return False
        return True

    def nearest_participant_ancestor(span: dict) -> str:
        parent = by_id.get(span.get("parent_id") or "")
        while parent is not None:
            if is_participant(parent):
                return parent["name"]
            parent = by_id.get(parent.get("parent_id") or "")
        return caller

    for span in sorted(spans, key=lambda s: (s["start_ns"], -s["end_ns"])):
        if not is_participant(span):
            continue
        source, target = nearest_participant_ancestor(span), span["name"]
        if target not in derived.participants:
            derived.participants.append(target)
        message = (source, target, _message_text(span))
        if not derived.messages or derived.messages[-1][:2] != message[:2]:
            derived.messages.append(message)
    derived.folded = list(folded)
    return derived


def _message_text(span: dict) -> str:
    attributes = span.get("attributes") or {}
    for key in ("http.route", "event_type", "operation", "kpi"):
        if attributes.get(key):
            return f"{key.split('.')[-1]} {attributes[key]}"
    return f"{(span['end_ns'] - span['start_ns']) / 1e6:.1f} ms"


def sequence_compare(scenario: Scenario, derived: DerivedSequence, *, not_traced: set[str]) -> SequenceDrift:
    expected = [label for label in catalog_order(scenario) if label not in not_traced]
    present = [label for label in derived.participants if label in expected]
    missing = [label for label in expected if label not in present]
    shared_expected = [label for label in expected if label in present]
    order = []
    for position, (want, got) in enumerate(zip(shared_expected, present, strict=True)):
        if want != got:
            order.append(
                f"participant {position + 1} is {got!r} in the trace but {want!r} in the catalog "
                f"(trace order: {' → '.join(present)})"
            )
            break
    return SequenceDrift(scenario=scenario.name, missing=missing, order=order)


def _alias(label: str) -> str:
    return "".join(ch for ch in label.title() if ch.isalnum())


def sequence_mermaid(derived: DerivedSequence) -> str:
    """The derived sequence as a Mermaid ``sequenceDiagram`` (participants named as in the catalog)."""
    lines = [
        "sequenceDiagram",
        f"    %% Derived from trace(s) {', '.join(derived.trace_ids)} by `make validate-sequences LIVE=1`.",
    ]
    for label in derived.participants:
        lines.append(f"    participant {_alias(label)} as {label}")
    for source, target, text in derived.messages:
        lines.append(f"    {_alias(source)}->>{_alias(target)}: {text}")
    if derived.folded:
        lines.append(f"    %% folded (not participants of this scenario): {', '.join(derived.folded)}")
    return "\n".join(lines) + "\n"
