"""Reads for clinical notes: the encounter on its shard, the row-level access rule, and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connections
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from apps.core.models import PersonaRole
from apps.core.resolver import shard_for_id
from apps.patients.models import CareTeamMember
from apps.telemetry import context

from ..models import Encounter
from ..selectors import clinician_relation, user_is_patient
from .glossary import glossary_rules
from .validation import NoteChange, NoteState, ValidatedNote, note_command_validate

NOTE_FIELDS = (
    "note_text",
    "note_status",
    "note_version",
    "note_released",
    "note_amendment_reason",
    "note_updated_by_user_id",
    "note_updated_at",
)


@dataclass(frozen=True)
class NoteAccess:
    """What a user may do with one encounter's note.

    ``visible`` False means the user must not learn the encounter exists (answer 404).
    """

    visible: bool
    can_read_drafts: bool
    can_edit: bool
    reason: str


def encounter_for_note(*, encounter_id: int) -> Encounter | None:
    alias = shard_for_id(encounter_id)
    context.bind(shard_id=alias)
    return Encounter.objects.using(alias).select_related("patient").filter(id=encounter_id).first()


# Set on an encounter read by ``encounter_lock_for_note`` for a clinician.
ON_CARE_TEAM_ANNOTATION = "pimlab_clinician_on_care_team"


@cache
def _on_care_team_sql(alias: str) -> str:
    """1 when the clinician (the one parameter) is on the locked encounter's patient's care team, else 0.

    Written out rather than ``Exists(CareTeamMember…OuterRef…)``: building and compiling that
    subquery cost ~0.6 ms of CPU on every note update, more than the rest of the statement. CASE
    keeps it a plain value on every backend (SQL Server accepts no bare EXISTS in a select list)."""
    quote = connections[alias].ops.quote_name
    care_team, encounter = quote(CareTeamMember._meta.db_table), quote(Encounter._meta.db_table)
    patient_id, clinician_user_id = quote("patient_id"), quote("clinician_user_id")
    return (
        f"CASE WHEN EXISTS (SELECT 1 FROM {care_team} WHERE {care_team}.{patient_id} = {encounter}.{patient_id}"  # noqa: S608
        f" AND {care_team}.{clinician_user_id} = %s) THEN 1 ELSE 0 END"
    )


def encounter_lock_for_note(*, alias: str, encounter_id: int, user) -> Encounter | None:
    """The encounter under its row lock, in one statement with its patient (the validator needs the
    MRN) and, for a clinician, whether they are on the patient's care team. Only the encounter row
    is locked, never the patient row shared by all its visits. Call inside a transaction on ``alias``."""
    queryset = Encounter.objects.using(alias).select_for_update(of=("self",)).select_related("patient")
    persona = getattr(user, "persona", None)
    if persona is not None and persona.role == PersonaRole.CLINICIAN:
        # Identifiers come quoted from the models' metadata; the clinician's id is a parameter.
        on_care_team = RawSQL(_on_care_team_sql(alias), (user.pk,), output_field=BooleanField())  # noqa: S611
        queryset = queryset.annotate(**{ON_CARE_TEAM_ANNOTATION: on_care_team})
    # By primary key there is at most one row: no ORDER BY (the model orders by requested_start) and
    # no LIMIT, whose compilation cost more than the statement on every note update.
    return next(iter(queryset.filter(id=encounter_id).order_by()), None)


def note_access_for(*, user, encounter: Encounter) -> NoteAccess:
    """Row-level rule (seed FR-08.1/08.2): the care team or the assigned clinician read and write;
    the patient reads their own released note; nobody else sees the encounter at all."""
    persona = getattr(user, "persona", None)
    role = persona.role if persona is not None else None
    if role == PersonaRole.CLINICIAN:
        relation = clinician_relation(
            clinician_user_id=user.pk,
            encounter=encounter,
            on_care_team=getattr(encounter, ON_CARE_TEAM_ANNOTATION, None),
        )
        if relation is not None:
            return NoteAccess(True, True, True, relation)
        return NoteAccess(False, False, False, "clinician not on the patient's care team")
    if user_is_patient(user=user, patient_id=encounter.patient_id):
        return NoteAccess(True, False, False, "the patient's own encounter")
    return NoteAccess(False, False, False, f"role {role or 'none'} has no access to clinical notes")


def note_as_dict(source) -> dict:
    """The note fields of an encounter or of one of its historical records."""
    return {
        "text": source.note_text,
        "status": source.note_status,
        "version": source.note_version,
        "released": source.note_released,
        "amendment_reason": source.note_amendment_reason,
        "updated_by_user_id": source.note_updated_by_user_id,
        "updated_at": source.note_updated_at,
    }


def encounter_note_history(*, encounter: Encounter) -> list[dict]:
    """Versions of the note, oldest first, each with field-level diffs against the previous one."""
    records = list(
        Encounter.history.using(encounter._state.db).filter(id=encounter.id).order_by("history_date", "history_id")
    )
    versions, previous = [], None
    for record in records:
        if previous is None:
            changes = [
                {"field": name, "old": None, "new": getattr(record, name)}
                for name in NOTE_FIELDS
                if getattr(record, name) not in ("", None, 0, False)
            ]
        else:
            delta = record.diff_against(previous, included_fields=list(NOTE_FIELDS))
            changes = [{"field": change.field, "old": change.old, "new": change.new} for change in delta.changes]
        previous = record
        if not changes and record.history_type != "+":
            continue
        versions.append(
            {
                "history_id": record.history_id,
                "note_version": record.note_version,
                "history_date": record.history_date,
                "history_type": record.history_type,
                "changed_by_user_id": record.history_user_id,
                "change_reason": record.history_change_reason or "",
                "changes": sorted(changes, key=lambda change: NOTE_FIELDS.index(change["field"])),
            }
        )
    return versions


def encounter_note_as_of(*, encounter: Encounter, as_of: datetime):
    """The historical record in force at ``as_of`` (None if the encounter did not exist yet)."""
    return (
        Encounter.history.using(encounter._state.db)
        .filter(id=encounter.id, history_date__lte=as_of)
        .order_by("-history_date", "-history_id")
        .first()
    )


def note_change_preview(*, encounter: Encounter, change: NoteChange) -> ValidatedNote:
    """What the Command Validator makes of ``change`` (masked identifiers, glossary findings), without
    saving. Raises ``NoteContextMissing`` when the change needs more context."""
    current = NoteState(
        text=encounter.note_text,
        status=encounter.note_status,
        released=encounter.note_released,
        version=encounter.note_version,
    )
    return note_command_validate(current=current, change=change, own_mrn=encounter.patient.mrn, rules=glossary_rules())
