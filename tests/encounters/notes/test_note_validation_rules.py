"""Pure-logic tests of the Command Validator's rules (no database)."""

import re

import pytest

from apps.encounters.notes.glossary import GlossaryEntry, GlossaryRules, _pattern
from apps.encounters.notes.validation import (
    NoteChange,
    NoteContextMissing,
    NoteState,
    note_command_validate,
    note_text_apply_glossary,
    note_text_redact,
)


def _rules(*entries: GlossaryEntry, sensitive=()):
    keyed = {}
    for entry in entries:
        keyed[entry.term if entry.term in sensitive else entry.term.lower()] = entry
    return GlossaryRules(
        entries=keyed,
        case_sensitive=_pattern([e.term for e in entries if e.term in sensitive], flags=0),
        case_insensitive=_pattern([e.term for e in entries if e.term not in sensitive], flags=re.IGNORECASE),
    )


@pytest.mark.parametrize(
    "text",
    [
        "BP 120/80, pulse 72, weight 81.5 kg.",
        "Seen on 2025-05-19 at 14:30.",
        "Dose 2.5 mg twice daily for 10 days.",
        "ICD-10 code I20.9.",
    ],
)
def test_clinical_numbers_are_not_mistaken_for_identifiers(text):
    assert note_text_redact(text, own_mrn="MRN00000001") == (text, [])


def test_several_identifiers_are_each_masked_and_counted():
    text = "Call 555-867-5309 or 555.123.4567; SSN 078-05-1120; mail a@b.io; MRN 00004242 and MRN00000001."
    masked, redactions = note_text_redact(text, own_mrn="MRN00000001")
    assert masked == (
        "Call [REDACTED-PHONE] or [REDACTED-PHONE]; SSN [REDACTED-SSN]; mail [REDACTED-EMAIL]; "
        "[REDACTED-MRN] and MRN00000001."
    )
    assert {r.kind: r.count for r in redactions} == {"phone": 2, "ssn": 1, "email": 1, "mrn": 1}


def test_glossary_prefers_the_longest_term_and_respects_word_edges():
    rules = _rules(
        GlossaryEntry("high blood pressure", "hypertension", "normalise", "synonym", ""),
        GlossaryEntry("blood", "haem", "normalise", "synonym", ""),
        GlossaryEntry("SOB", "shortness of breath", "normalise", "abbreviation", ""),
        sensitive=("SOB",),
    )
    text, normalised, flagged = note_text_apply_glossary("High blood pressure; SOBER; sob; SOB.", rules=rules)
    assert text == "hypertension; SOBER; sob; shortness of breath."
    assert {f.term for f in normalised} == {"high blood pressure", "SOB"} and flagged == []


def test_validator_compares_cleaned_text_for_amendments():
    rules = _rules(GlossaryEntry("bid", "twice daily", "normalise", "abbreviation", ""))
    current = NoteState(text="metoprolol twice daily", status="signed", released=False, version=4)
    validated = note_command_validate(
        current=current, change=NoteChange(text="metoprolol bid", released=True), own_mrn="X", rules=rules
    )
    assert validated.is_amendment is False and validated.released is True
    with pytest.raises(NoteContextMissing) as refused:
        note_command_validate(current=current, change=NoteChange(text="metoprolol tid"), own_mrn="X", rules=rules)
    assert refused.value.extra["missing"] == ["amendment_reason"] and refused.value.extra["current_version"] == 4


def test_first_text_on_an_empty_note_makes_a_draft():
    current = NoteState(text="", status="empty", released=False, version=0)
    validated = note_command_validate(current=current, change=NoteChange(text="Hello"), own_mrn="X", rules=_rules())
    assert validated.status == "draft" and validated.text == "Hello"
