"""Clinician: a visit's page with the note editor (draft, sign, amend, release), the validator's
preview of what it masks, the concurrent-edit conflict page, the note's history with an "as of"
view, Finish visit, and break-glass: a clinician outside the care team who opens a visit gets the
refusal page, which offers to read it anyway with a stated reason (``encounter_read``, as the API's
``Break-Glass-Reason`` header: audited as a break-glass read and alerted).

Every write goes through the services of the API (``encounter_note_update``, ``encounter_finish``)
inside the same controller and telemetry spans as PATCH /api/encounters/{id}/notes."""

from __future__ import annotations

from datetime import UTC

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audits.models import AuditOutcome
from apps.core.actors import Actor
from apps.core.ids import InvalidShardedId
from apps.core.models import Persona, PersonaRole
from apps.encounters.access import BREAK_GLASS_REASON_MAX, BREAK_GLASS_REASON_MIN, encounter_read
from apps.encounters.errors import BreakGlassReasonTooShort, EncounterNotFinishableByActor, EncounterNotVisible
from apps.encounters.models import EncounterStatus, NoteStatus
from apps.encounters.notes.errors import NoteVersionConflict
from apps.encounters.notes.selectors import (
    encounter_for_note,
    encounter_note_as_of,
    encounter_note_history,
    note_access_for,
    note_change_preview,
)
from apps.encounters.notes.services import encounter_note_access_record, encounter_note_update
from apps.encounters.notes.telemetry import note_request_telemetry
from apps.encounters.notes.validation import NoteChange
from apps.encounters.selectors import EncounterView
from apps.encounters.services import encounter_finish

from .access import persona_required, through_gateway
from .errors import REFUSALS, form_error_add, portal_error, status_for
from .forms import PortalForm

NOT_ON_CARE_TEAM = "This visit is not one of your care-team patients'. Open visits from your worklist."
NOTE_INTENTS = {"draft": NoteStatus.DRAFT, "sign": NoteStatus.SIGNED, "amend": NoteStatus.SIGNED}


class NoteForm(PortalForm):
    text = forms.CharField(
        label="Note", required=False, strip=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 10})
    )
    amendment_reason = forms.CharField(
        label="Reason for the amendment",
        required=False,
        max_length=500,
        help_text="Needed when you change a signed note, for example “corrected medication dose”.",
    )
    released = forms.BooleanField(label="Release the note to the patient", required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def change(self, intent: str) -> NoteChange:
        data = self.cleaned_data
        return NoteChange(
            text=data["text"],
            status=NOTE_INTENTS.get(intent, NoteStatus.DRAFT),
            released=data["released"],
            amendment_reason=data["amendment_reason"],
        )


class BreakGlassForm(PortalForm):
    """The reason is required here; how long it must be is the service's rule (``encounter_read``
    refuses a short one for the API and the portal alike), shown next to the field."""

    reason = forms.CharField(
        label="Why do you need this patient's record now?",
        help_text=(
            "Say what the emergency is, for example “Unconscious in the emergency department, no "
            f"relatives reachable”. At least {BREAK_GLASS_REASON_MIN} characters. Your name, the time "
            "and this reason are recorded and sent to the privacy officer."
        ),
        max_length=BREAK_GLASS_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": "Enter the reason you need this patient's record",
            "max_length": f"Enter a reason of {BREAK_GLASS_REASON_MAX} characters or fewer",
        },
    )


def display_names(user_ids) -> dict[int, str]:
    """Persona display names for catalog user ids, in one query."""
    ids = {user_id for user_id in user_ids if user_id}
    rows = Persona.objects.filter(user_id__in=ids).values_list("user_id", "display_name") if ids else []
    return dict(rows)


def _encounter_for_clinician(request, encounter_id: str, *, operation: str):
    """The visit if the signed-in clinician is on the patient's care team; refusals are audited as
    in the API and answered 404 (no existence oracle)."""
    try:
        encounter = encounter_for_note(encounter_id=int(encounter_id))
    except (ValueError, InvalidShardedId):
        encounter = None
    if encounter is None:
        raise Http404("No visit with this number.")
    access = note_access_for(user=request.user, encounter=encounter)
    if not access.can_edit:
        encounter_note_access_record(
            encounter=encounter,
            actor=Actor.from_user(request.user),
            operation=operation,
            outcome=AuditOutcome.DENIED,
            reason=access.reason,
        )
        raise Http404(NOT_ON_CARE_TEAM)
    return encounter


def _page(request, encounter, *, form=None, preview=None, preview_error=None, status=200):
    if form is None:
        form = NoteForm(
            initial={
                "text": encounter.note_text,
                "released": encounter.note_released,
                "version": encounter.note_version,
            }
        )
    # As the clinician types, htmx asks for the validator's preview (the page works without it).
    form.fields["text"].widget.attrs.update(
        {
            "hx-post": reverse("portal-note-preview", args=[encounter.id]),
            "hx-trigger": "input changed delay:400ms",
            "hx-include": "#note-form",
            "hx-target": "#note-preview",
            "hx-swap": "outerHTML",
            "aria-controls": "note-preview",
        }
    )
    names = display_names([encounter.note_updated_by_user_id, encounter.booked_by_user_id])
    context = {
        "encounter": encounter,
        "patient": encounter.patient,
        "form": form,
        "signed": encounter.note_status == NoteStatus.SIGNED,
        "preview": preview,
        "preview_error": preview_error,
        "updated_by": names.get(encounter.note_updated_by_user_id, ""),
        "can_finish": encounter.status in (EncounterStatus.BOOKED, EncounterStatus.IN_PROGRESS),
        "started": encounter.requested_start <= timezone.now(),
    }
    return render(request, "portal/clinician/encounter.html", context, status=status)


def _refused_page(request, encounter_id: str, *, form=None, status=404):
    """The visit is not one of the clinician's care-team patients' (or does not exist: the page
    is the same, so it tells nothing about existence): say so, and offer break-glass."""
    context = {"encounter_id": encounter_id, "form": form or BreakGlassForm()}
    return render(request, "portal/clinician/refused.html", context, status=status)


@require_GET
@persona_required(PersonaRole.CLINICIAN)
def encounter_page(request, encounter_id: str):
    # Read as GET /api/encounters/{id} reads it: the care-team rule and one audit event for the
    # page (the visit with its note); a refusal is audited and offers break-glass.
    try:
        encounter, _access = encounter_read(
            actor=Actor.from_user(request.user), encounter_id=encounter_id, shows_note=True
        )
    except EncounterNotVisible:
        return _refused_page(request, encounter_id)
    return _page(request, encounter)


@require_POST
@persona_required(PersonaRole.CLINICIAN)
@through_gateway
def encounter_break_glass(request, encounter_id: str):
    """Read a visit outside the care team with a stated reason: audited as a break-glass read and
    alerted by the same service as the API; the visit is shown read-only (no note editing)."""
    form = BreakGlassForm(request.POST)
    if not form.is_valid():
        return _refused_page(request, encounter_id, form=form, status=422)
    try:
        encounter, access = encounter_read(
            actor=Actor.from_user(request.user),
            encounter_id=encounter_id,
            break_glass_reason=form.cleaned_data["reason"],
            shows_note=True,
        )
    except EncounterNotVisible:
        return _refused_page(request, encounter_id)
    except BreakGlassReasonTooShort as exc:
        error = form_error_add(form, exc, field_names={"break_glass_reason": "reason"})
        return _refused_page(request, encounter_id, form=form, status=error.status)
    if access.view != EncounterView.BREAK_GLASS:
        # On the care team after all: the ordinary page, no emergency.
        return redirect("portal-encounter", encounter_id=encounter.id)
    context = {
        "encounter": encounter,
        "patient": encounter.patient,
        "reason": form.cleaned_data["reason"].strip(),
        "updated_by": display_names([encounter.note_updated_by_user_id]).get(encounter.note_updated_by_user_id, ""),
    }
    return render(request, "portal/clinician/break_glass.html", context)


@require_POST
@persona_required(PersonaRole.CLINICIAN)
@through_gateway
def note_save(request, encounter_id: str):
    """Save (draft, sign, amend) — or, with intent=preview, only show what the validator would do."""
    intent = request.POST.get("intent", "draft")
    if intent == "preview":
        return note_preview(request, encounter_id)
    with note_request_telemetry(operation="update", encounter_id=encounter_id) as note_request:
        encounter = _encounter_for_clinician(request, encounter_id, operation="update")
        form = NoteForm(request.POST)
        if not form.is_valid():
            note_request.status_code = 400
            return _page(request, encounter, form=form, status=422)
        try:
            saved = encounter_note_update(
                encounter_id=encounter.id,
                user=request.user,
                expected_version=form.cleaned_data["version"],
                change=form.change(intent),
            )
            updated, validated = saved.encounter, saved.note
        except NoteVersionConflict as conflict:
            note_request.status_code = 412
            return _conflict_page(
                request, encounter_id, form=form, intent=intent, current_version=conflict.current_version
            )
        except REFUSALS as exc:
            error = form_error_add(form, exc)
            note_request.status_code = error.status
            return _page(request, encounter, form=form, status=status_for(form, error))
        note_request.status_code = 200
    messages.success(request, _saved_message(updated, validated))
    return redirect("portal-encounter", encounter_id=updated.id)


def _saved_message(encounter, validated) -> str:
    what = {"draft": "Draft saved", "signed": "Note signed"}.get(encounter.note_status, "Note saved")
    if validated.is_amendment:
        what = "Amendment saved"
    parts = [f"{what} (version {encounter.note_version})."]
    if encounter.note_released:
        parts.append("The patient can read it.")
    masked = sum(r.count for r in validated.redactions)
    if masked:
        parts.append(f"{masked} identifier{'s' if masked != 1 else ''} masked.")
    if validated.normalised:
        parts.append(f"{len(validated.normalised)} glossary term(s) normalised.")
    return " ".join(parts)


def _conflict_page(request, encounter_id, *, form, intent, current_version):
    current = encounter_for_note(encounter_id=int(encounter_id))
    names = display_names([current.note_updated_by_user_id])
    retry = NoteForm(
        initial={
            "text": form.cleaned_data["text"],
            "amendment_reason": form.cleaned_data["amendment_reason"],
            "released": form.cleaned_data["released"],
            "version": current_version,
        }
    )
    context = {
        "encounter": current,
        "patient": current.patient,
        "mine": form.cleaned_data,
        "intent": intent,
        "form": retry,
        "signed": current.note_status == NoteStatus.SIGNED,
        "updated_by": names.get(current.note_updated_by_user_id, "another clinician"),
    }
    return render(request, "portal/clinician/conflict.html", context, status=409)


@require_POST
@persona_required(PersonaRole.CLINICIAN)
def note_preview(request, encounter_id: str):
    """What the Command Validator would mask and flag, without saving (htmx partial or full page)."""
    encounter = _encounter_for_clinician(request, encounter_id, operation="update")
    form = NoteForm(request.POST)
    preview, preview_error = None, None
    if form.is_valid():
        intent = request.POST.get("intent_for_preview") or (
            "amend" if encounter.note_status == NoteStatus.SIGNED else "draft"
        )
        try:
            preview = note_change_preview(encounter=encounter, change=form.change(intent))
        except REFUSALS as exc:
            preview_error = portal_error(exc)
    if request.headers.get("HX-Request"):
        return render(request, "portal/clinician/_preview.html", {"preview": preview, "preview_error": preview_error})
    return _page(request, encounter, form=form, preview=preview, preview_error=preview_error)


class AsOfForm(forms.Form):
    """A moment in time: the picker's "2030-01-31T09:30:15" or any ISO 8601 timestamp (as the
    API's ``?as_of=`` takes); without an offset it is UTC."""

    as_of = forms.CharField(
        label="Show the note as it was at (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1", "class": "form-control"}),
    )

    def clean_as_of(self):
        raw = self.cleaned_data["as_of"].strip()
        if not raw:
            return None
        try:
            moment = parse_datetime(raw)
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError("Enter a real date and time, like 2030-01-31 09:30:15")
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


@require_GET
@persona_required(PersonaRole.CLINICIAN)
def note_history_page(request, encounter_id: str):
    encounter = _encounter_for_clinician(request, encounter_id, operation="history")
    actor = Actor.from_user(request.user)
    encounter_note_access_record(encounter=encounter, actor=actor, operation="history", outcome="success")
    versions = list(reversed(encounter_note_history(encounter=encounter)))
    names = display_names(version["changed_by_user_id"] for version in versions)
    for version in versions:
        version["changed_by"] = names.get(version["changed_by_user_id"], "system")
    as_of_form = AsOfForm(request.GET or None)
    as_of, record = None, None
    if as_of_form.is_bound and as_of_form.is_valid() and as_of_form.cleaned_data["as_of"]:
        as_of = as_of_form.cleaned_data["as_of"].astimezone(UTC)
        record = encounter_note_as_of(encounter=encounter, as_of=as_of)
        if record is None:
            as_of_form.add_error("as_of", "The visit was not booked yet at that time. Choose a later time.")
    context = {
        "encounter": encounter,
        "patient": encounter.patient,
        "versions": versions,
        "as_of_form": as_of_form,
        "as_of": as_of,
        "record": record,
        "record_by": display_names([getattr(record, "note_updated_by_user_id", None)]).get(
            getattr(record, "note_updated_by_user_id", None), ""
        ),
    }
    return render(request, "portal/clinician/history.html", context, status=422 if as_of_form.errors else 200)


@require_http_methods(["GET", "POST"])
@persona_required(PersonaRole.CLINICIAN)
def encounter_finish_page(request, encounter_id: str):
    if request.method == "GET":
        # The confirmation shows the visit: read (and audited) as the visit's page is.
        try:
            encounter, _access = encounter_read(actor=Actor.from_user(request.user), encounter_id=encounter_id)
        except EncounterNotVisible as exc:
            raise Http404(NOT_ON_CARE_TEAM) from exc
        return render(request, "portal/clinician/finish.html", {"encounter": encounter, "patient": encounter.patient})
    encounter = _encounter_for_clinician(request, encounter_id, operation="read")
    try:
        _finished, changed = encounter_finish(encounter_id=encounter.id, actor=Actor.from_user(request.user))
    except EncounterNotFinishableByActor as exc:
        raise Http404(str(exc)) from exc
    except REFUSALS as exc:
        error = portal_error(exc)
        context = {"encounter": encounter, "patient": encounter.patient, "error": error}
        return render(request, "portal/clinician/finish.html", context, status=error.status)
    if changed:
        messages.success(request, "Visit finished. It now appears in the billing team's Ready to bill list.")
    else:
        messages.info(request, "This visit was already finished.")
    return redirect("portal-encounter", encounter_id=encounter.id)
