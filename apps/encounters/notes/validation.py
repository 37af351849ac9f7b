"""Command Validator for clinical note updates (seed: "Validate payload, redact sensitive fields").

Three jobs, in this order:
1. redaction: identifiers that must not live in free text (SSN-like numbers, phone numbers,
   e-mail addresses, other patients' MRNs) are masked; the response reports kinds and counts,
   never the values;
2. glossary consistency (FR-16.4): abbreviations and lay terms are normalised to canonical terms
   or flagged with guidance;
3. missing context (FR-07.4): a change the current note state does not allow without more
   information (amending a signed note without a reason, signing an empty note, releasing an
   unsigned one) is refused with 422 and a remediation. It compares the cleaned text, so
   re-sending a signed note unchanged is not an amendment.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

from apps.core.redaction import PLACEHOLDERS, phi_redact

from ..models import GlossaryAction, NoteStatus
from .errors import NoteContextMissing
from .glossary import GlossaryRules


@dataclass(frozen=True)
class NoteState:
    text: str
    status: str
    released: bool
    version: int


@dataclass(frozen=True)
class NoteChange:
    """What the clinician sent; ``None`` means "leave as is"."""

    text: str | None = None
    status: str | None = None
    released: bool | None = None
    amendment_reason: str = ""


@dataclass(frozen=True)
class Redaction:
    kind: str
    count: int
    replacement: str


@dataclass(frozen=True)
class GlossaryFinding:
    term: str
    canonical: str
    category: str
    count: int
    guidance: str = ""


@dataclass(frozen=True)
class ValidatedNote:
    text: str
    status: str
    released: bool
    amendment_reason: str
    is_amendment: bool
    redactions: list[Redaction] = field(default_factory=list)
    normalised: list[GlossaryFinding] = field(default_factory=list)
    flagged: list[GlossaryFinding] = field(default_factory=list)

    def report(self) -> dict:
        return {
            "redactions": [vars(r) for r in self.redactions],
            "glossary": {"normalised": [vars(f) for f in self.normalised], "flagged": [vars(f) for f in self.flagged]},
        }


REDACTION_PLACEHOLDERS = PLACEHOLDERS


def note_text_redact(text: str, *, own_mrn: str) -> tuple[str, list[Redaction]]:
    """Mask identifiers (apps.core.redaction); the patient's own MRN is allowed, any other is masked."""
    text, counts = phi_redact(text, allowed_mrn=own_mrn)
    redactions = [Redaction(kind, counts[kind], PLACEHOLDERS[kind]) for kind in PLACEHOLDERS]
    return text, [r for r in redactions if r.count]


def free_text_redact(text: str) -> tuple[str, list[Redaction]]:
    """Mask every identifier, the patient's own MRN included (amendment and booking reasons
    travel further than the note: history change reasons, billing views)."""
    return note_text_redact(text, own_mrn="")


def note_text_apply_glossary(
    text: str, *, rules: GlossaryRules
) -> tuple[str, list[GlossaryFinding], list[GlossaryFinding]]:
    normalised: Counter[str] = Counter()
    flagged: Counter[str] = Counter()

    def apply(match: re.Match) -> str:
        entry = rules.entry_for(match.group(0))
        if entry.action == GlossaryAction.FLAG:
            flagged[entry.term] += 1
            return match.group(0)
        normalised[entry.term] += 1
        return entry.canonical

    for pattern in (rules.case_sensitive, rules.case_insensitive):
        if pattern is not None:
            text = pattern.sub(apply, text)

    def findings(counts: Counter[str]) -> list[GlossaryFinding]:
        result = []
        for term, count in sorted(counts.items()):
            entry = rules.entry_for(term)
            result.append(GlossaryFinding(term, entry.canonical, entry.category, count, entry.guidance))
        return result

    return text, findings(normalised), findings(flagged)


def note_change_check(*, current: NoteState, change: NoteChange) -> tuple[str, str, bool, bool]:
    """Refuse changes that lack context; return the resulting (text, status, released, is_amendment)."""
    text = current.text if change.text is None else change.text
    new_status = change.status or (NoteStatus.DRAFT if current.status == NoteStatus.EMPTY else current.status)
    released = current.released if change.released is None else change.released
    was_signed = current.status == NoteStatus.SIGNED
    text_changed = change.text is not None and change.text != current.text
    reason = change.amendment_reason.strip()

    if was_signed and new_status != NoteStatus.SIGNED:
        raise NoteContextMissing(
            detail="A signed note cannot go back to draft.",
            remediation='Keep `status` as "signed" and send the corrected text with an `amendment_reason`.',
            missing=["amendment_reason"],
            current_version=current.version,
        )
    if was_signed and text_changed and not reason:
        raise NoteContextMissing(
            detail="This note is signed; changing it is an amendment and needs a reason.",
            remediation='Add `amendment_reason` (for example "corrected medication dose") and send the request again.',
            missing=["amendment_reason"],
            current_version=current.version,
        )
    if new_status == NoteStatus.SIGNED and not text.strip():
        raise NoteContextMissing(
            detail="An empty note cannot be signed.",
            remediation='Add the note `text` before setting `status` to "signed".',
            missing=["text"],
            current_version=current.version,
        )
    if released and new_status != NoteStatus.SIGNED:
        raise NoteContextMissing(
            detail="Only signed notes can be released to the patient.",
            remediation='Set `status` to "signed" (with the final `text`) before, or together with, `released`.',
            missing=["status"],
            current_version=current.version,
        )
    return text, new_status, released, was_signed and text_changed


def note_command_validate(
    *, current: NoteState, change: NoteChange, own_mrn: str, rules: GlossaryRules
) -> ValidatedNote:
    redactions: list[Redaction] = []
    normalised: list[GlossaryFinding] = []
    flagged: list[GlossaryFinding] = []
    if change.text is not None:
        cleaned, redactions = note_text_redact(change.text, own_mrn=own_mrn)
        cleaned, normalised, flagged = note_text_apply_glossary(cleaned, rules=rules)
        change = replace(change, text=cleaned)
    text, new_status, released, is_amendment = note_change_check(current=current, change=change)
    amendment_reason = ""
    if is_amendment:
        amendment_reason, reason_redactions = free_text_redact(change.amendment_reason.strip())
        redactions = _merged(redactions, reason_redactions)
    return ValidatedNote(
        text=text,
        status=new_status,
        released=released,
        amendment_reason=amendment_reason,
        is_amendment=is_amendment,
        redactions=redactions,
        normalised=normalised,
        flagged=flagged,
    )


def _merged(first: list[Redaction], second: list[Redaction]) -> list[Redaction]:
    counts: Counter[str] = Counter()
    for redaction in (*first, *second):
        counts[redaction.kind] += redaction.count
    return [Redaction(kind, counts[kind], PLACEHOLDERS[kind]) for kind in PLACEHOLDERS if counts[kind]]
