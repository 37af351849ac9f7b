"""Property tests of the free-text redaction: identifiers in every format the lab knows, placed in
random text, never survive (pure logic: no database)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.redaction import phi_redact
from apps.encounters.notes.validation import NoteChange, NoteState, note_command_validate

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def _n(count: int):
    return st.text(alphabet="0123456789", min_size=count, max_size=count)


mrns = st.builds(
    lambda prefix, sep, number: f"{prefix}{sep}{number}",
    st.sampled_from(["LAB", "lab", "Lab", "MRN", "mrn"]),
    st.sampled_from(["", "-", " ", ": ", "#"]),
    st.one_of(_n(7), _n(8), _n(10)),
)
ssns = st.builds(lambda a, b, c, sep: f"{a}{sep}{b}{sep}{c}", _n(3), _n(2), _n(4), st.sampled_from(["-", " ", ".", ""]))
phones = st.builds(
    lambda a, b, c, shape: shape.format(a=a, b=b, c=c),
    _n(3),
    _n(3),
    _n(4),
    st.sampled_from(
        [
            "{a}-{b}-{c}",
            "{a}.{b}.{c}",
            "{a} {b} {c}",
            "({a}) {b}-{c}",
            "({a}){b}-{c}",
            "+1 {a} {b} {c}",
            "+1-{a}-{b}-{c}",
            "1-{a}-{b}-{c}",
            "{a}{b}{c}",
            "+1{a}{b}{c}",
        ]
    ),
)
months = st.sampled_from(["March", "Mar", "mar.", "December", "Sept", "jan"])
days = st.integers(1, 28).map(str)
years = st.integers(1920, 2024).map(str)
dates = st.one_of(
    st.builds(lambda y, m, d, s: f"{y}{s}{int(m):02d}{s}{int(d):02d}", years, days, days, st.sampled_from("-/.")),
    st.builds(lambda y, m, d, s: f"{m}{s}{d}{s}{y}", years, days, days, st.sampled_from("-/.")),
    st.builds(lambda y, m, d, s: f"{d}{s}{m}{s}{y[2:]}", years, days, days, st.sampled_from("-/")),
    st.builds(lambda y, m, d: f"{d} {m} {y}", years, months, days),
    st.builds(lambda y, m, d: f"{d}-{m}-{y}", years, months, days),
    st.builds(lambda y, m, d: f"{m} {d}, {y}", years, months, days),
)
dobs = st.builds(
    lambda label, date: f"{label}{date}",
    st.sampled_from(["DOB ", "DOB: ", "dob=", "D.O.B. ", "date of birth ", "Date of birth: ", "born ", "born on "]),
    dates,
)
emails = st.emails().filter(lambda e: "\n" not in e)
identifiers = st.one_of(mrns, ssns, phones, dobs, emails)
# Free text around the identifier: words, punctuation and numbers that are not identifiers.
filler = st.text(
    alphabet=st.characters(categories=["L", "Zs", "P"], exclude_characters="@"), max_size=40
) | st.sampled_from(["BP 120/80", "dose 2.5 mg", "ICD-10 I20.9", "seen on 2025-05-19", "pulse 72"])


def _secret_part(identifier: str) -> str:
    """The part of an identifier that must not survive (a DOB's label may stay)."""
    for label in ("date of birth: ", "date of birth ", "d.o.b. ", "born on ", "born ", "dob: ", "dob=", "dob "):
        if identifier.lower().startswith(label):
            return identifier[len(label) :]
    return identifier


@settings(max_examples=400, deadline=None)
@given(before=filler, identifier=identifiers, after=filler)
def test_no_identifier_survives_redaction(before, identifier, after):
    redacted, counts = phi_redact(f"{before} {identifier} {after}")
    assert _secret_part(identifier) not in redacted
    assert sum(counts.values()) >= 1


@settings(max_examples=200, deadline=None)
@given(identifier=identifiers, own=_n(7))
def test_only_the_patients_own_mrn_is_kept_in_their_note(identifier, own):
    own_mrn = f"LAB{own}"
    redacted, _ = phi_redact(f"Own record {own_mrn}; other {identifier}.", allowed_mrn=own_mrn)
    assert own_mrn in redacted
    if _secret_part(identifier) != own_mrn and own not in identifier:
        assert _secret_part(identifier) not in redacted


@settings(max_examples=150, deadline=None)
@given(identifier=identifiers, before=filler)
def test_amendment_reason_is_redacted_like_the_note(identifier, before):
    from apps.encounters.notes.glossary import GlossaryRules

    rules = GlossaryRules(entries={}, case_sensitive=None, case_insensitive=None)
    current = NoteState(text="Signed text.", status="signed", released=False, version=3)
    validated = note_command_validate(
        current=current,
        change=NoteChange(text="Corrected text.", amendment_reason=f"{before} {identifier}"),
        own_mrn="LAB0000001",
        rules=rules,
    )
    assert validated.is_amendment
    assert _secret_part(identifier) not in validated.amendment_reason
