"""Patient pages: My visits, Book a visit, and a visit's confirmation/detail page.

Booking goes through ``encounter_book`` exactly as POST /api/encounters does; the form carries a
server-issued idempotency key, so a double click or a resubmitted form books once and lands on
the same confirmation."""

from __future__ import annotations

import uuid

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.actors import Actor
from apps.core.ids import InvalidShardedId
from apps.core.models import PersonaRole
from apps.encounters.access import encounter_list_audit, encounter_read
from apps.encounters.errors import EncounterNotVisible
from apps.encounters.models import EncounterType
from apps.encounters.selectors import (
    encounter_booking_event,
    encounter_booking_events,
    encounter_visible_to,
    patient_encounters,
)
from apps.encounters.services import booking_request_fingerprint, encounter_book
from apps.outbox.models import OutboxStatus
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from .access import persona_required, through_gateway
from .errors import REFUSALS, form_error_add, status_for
from .forms import PortalForm

# htmx stops polling when a polled partial answers 286.
HTMX_STOP_POLLING = 286


class BookVisitForm(PortalForm):
    encounter_type = forms.ChoiceField(
        label="Type of visit", choices=EncounterType.choices, widget=forms.RadioSelect,
        error_messages={"required": "Select the type of visit"},
    )  # fmt: skip
    reason = forms.CharField(
        label="Why do you need the visit?",
        help_text="A sentence is enough, for example “Cough for two weeks”.",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter the reason for your visit"},
    )
    requested_start = forms.DateTimeField(
        label="Preferred date and time (UTC)",
        help_text="Choose a time from now on: a visit cannot be booked in the past.",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": "Enter the date and time you would like the visit",
            "invalid": "Enter a real date and time, like 2030-01-31 09:30",
        },
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The picker refuses past slots in the browser; the service refuses them on the server.
        earliest = timezone.now().astimezone(timezone.get_current_timezone())
        self.fields["requested_start"].widget.attrs["min"] = earliest.strftime("%Y-%m-%dT%H:%M")


def _own_patient_id(request) -> int:
    return request.user.persona.patient_id


def _visit_row(encounter, event) -> dict:
    tracking_id, event_status = event or ("", "unknown")
    return {
        "encounter": encounter,
        "tracking_id": tracking_id,
        "event_status": event_status,
        "published": event_status == OutboxStatus.PUBLISHED,
    }


@require_GET
@persona_required(PersonaRole.PATIENT)
def my_visits_page(request):
    encounters = patient_encounters(patient_id=_own_patient_id(request))
    # The page shows every visit at once: one audited read of the list, as a page.
    encounter_list_audit(actor=Actor.from_user(request.user), encounters=encounters, page=1)
    events = encounter_booking_events(encounters=encounters)
    now = timezone.now()
    rows = [_visit_row(encounter, events.get(encounter.id)) for encounter in encounters]
    upcoming = sorted(
        (r for r in rows if r["encounter"].requested_start >= now), key=lambda r: r["encounter"].requested_start
    )
    past = [r for r in rows if r["encounter"].requested_start < now]
    return render(request, "portal/visits/my_visits.html", {"upcoming": upcoming, "past": past})


@require_http_methods(["GET", "POST"])
@persona_required(PersonaRole.PATIENT)
@through_gateway
def book_visit_page(request):
    if request.method == "GET":
        form = BookVisitForm(initial={"idempotency_key": uuid.uuid4().hex, "encounter_type": EncounterType.IN_PERSON})
        return render(request, "portal/visits/book.html", {"form": form})
    form = BookVisitForm(request.POST)
    error = None
    if form.is_valid():
        data = form.cleaned_data
        patient_id = _own_patient_id(request)
        with participant_span(Participant.PATIENT_API_CONTROLLER):
            try:
                booking = encounter_book(
                    actor=Actor.from_user(request.user),
                    patient_id=patient_id,
                    encounter_type=data["encounter_type"],
                    reason=data["reason"].strip(),
                    requested_start=data["requested_start"],
                    idempotency_key=data["idempotency_key"],
                    request_fingerprint=booking_request_fingerprint(
                        patient_id=patient_id,
                        encounter_type=data["encounter_type"],
                        reason=data["reason"].strip(),
                        requested_start=data["requested_start"],
                    ),
                )
            except REFUSALS as exc:
                error = form_error_add(form, exc)
        if error is None:
            return redirect("portal-visit", encounter_id=booking.encounter.id)
    return render(request, "portal/visits/book.html", {"form": form}, status=status_for(form, error))


VISIT_NOT_YOURS = "No visit with this number is yours. Open it from My visits."


def _visit_for(request, encounter_id: str):
    try:
        encounter = encounter_visible_to(user=request.user, encounter_id=encounter_id)
    except InvalidShardedId:
        encounter = None
    if encounter is None:
        raise Http404(VISIT_NOT_YOURS)
    return encounter


@require_GET
@persona_required(PersonaRole.PATIENT)
def visit_page(request, encounter_id: str):
    # Read as GET /api/encounters/{id} reads it: the row rule and one audit event (which says
    # whether the released note was shown with the visit); a refusal is audited and answers 404.
    try:
        encounter, _access = encounter_read(
            actor=Actor.from_user(request.user), encounter_id=encounter_id, shows_note=True
        )
    except EncounterNotVisible as exc:
        raise Http404(VISIT_NOT_YOURS) from exc
    row = _visit_row(encounter, encounter_booking_event(encounter=encounter))
    return render(request, "portal/visits/detail.html", {"row": row, "encounter": encounter})


@require_GET
@persona_required(PersonaRole.PATIENT)
def visit_status_partial(request, encounter_id: str):
    """The tracking panel, polled by htmx until the EncounterCreated event is published."""
    encounter = _visit_for(request, encounter_id)
    row = _visit_row(encounter, encounter_booking_event(encounter=encounter))
    response = render(request, "portal/visits/_tracking.html", {"row": row, "encounter": encounter})
    if row["published"]:
        response.status_code = HTMX_STOP_POLLING
    return response
