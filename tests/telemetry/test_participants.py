"""Span names come from one place: the ``Participant`` enum, named after the seed's participants."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from apps.probes.sequence_catalog import catalog_parse
from apps.telemetry.participants import Participant, participant_of
from apps.telemetry.spans import participant_span
from apps.telemetry.tracing import span_store

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "docs" / "requirements" / "runtime-sequence-catalog.md"
SPAN_STARTERS = {"participant_span", "start_as_current_span", "start_span"}


def test_every_catalog_participant_is_a_member_under_its_own_label():
    catalog = catalog_parse(SEED.read_text())
    labels = {p.label for scenario in catalog.scenarios for p in scenario.participants}
    assert len(labels) >= 30
    assert {label for label in labels if participant_of(label) is None} == set()
    assert Participant.SQL_SHARD_PRIMARY == "SQL Shard Primary"


def _literal_span_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in SPAN_STARTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {first.value!r}")
    return found


def test_no_span_is_named_by_a_string_literal():
    literal = [hit for path in sorted((ROOT / "apps").rglob("*.py")) for hit in _literal_span_names(path)]
    assert literal == []


def test_a_span_named_by_a_free_string_is_refused():
    with pytest.raises(ValueError), participant_span("SQL"):
        pass


def test_participant_span_records_the_catalog_label():
    span_store.clear()
    with participant_span(Participant.SQL_SHARD_PRIMARY):
        pass
    assert [s.name for s in span_store.spans()] == ["SQL Shard Primary"]
    assert type(span_store.spans()[0].name) is str
