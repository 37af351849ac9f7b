"""Billing admin: Ready to bill, Submit claim (code-set type-ahead, payer, line items with a running
total), Claims and a claim's page. Claims are submitted through ``claim_submit`` inside the same
"Billing Service API" span as POST /api/claims, so audit events, outbox rows, metrics and spans match."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.claims.access import claim_list_audit, claim_read_audit, claim_read_view
from apps.claims.code_sets import (
    code_search,
    diagnosis_codes_problems,
    diagnosis_display,
    procedure_code_problem,
    procedure_display,
)
from apps.claims.links import trace_link
from apps.claims.selectors import (
    ClaimView,
    claim_get,
    claim_line_items,
    claims_recent,
    encounters_ready_to_bill,
    payer_list,
)
from apps.claims.services.submit import LineItemInput, claim_submit
from apps.core.actors import Actor
from apps.core.ids import InvalidShardedId
from apps.core.models import PersonaRole
from apps.core.pagination import page_number, paginate_across_shards
from apps.encounters.access import encounter_list_audit, encounter_read
from apps.encounters.errors import EncounterNotVisible
from apps.encounters.selectors import encounter_get
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from .access import persona_required, through_gateway
from .errors import REFUSALS, form_error_add, status_for
from .forms import PortalForm

LIST_PAGE_SIZE = 20
CLAIM_LINE_ROWS = 3
CLAIM_READERS = (PersonaRole.BILLING_ADMIN, PersonaRole.OPERATOR)


@require_GET
@persona_required(PersonaRole.BILLING_ADMIN)
def ready_to_bill_page(request):
    page = paginate_across_shards(
        encounters_ready_to_bill(),
        key=lambda encounter: (encounter.requested_start, encounter.id),
        number=page_number(request.GET.get("page")),
        per_page=LIST_PAGE_SIZE,
    )
    encounter_list_audit(actor=Actor.from_user(request.user), encounters=page.rows, page=page.number)
    return render(request, "portal/billing/ready_to_bill.html", {"page": page})


@require_GET
@persona_required(*CLAIM_READERS)
def claims_page(request):
    page = paginate_across_shards(
        claims_recent(),
        key=lambda claim: (-claim.submitted_at.timestamp(), -claim.id),
        number=page_number(request.GET.get("page")),
        per_page=LIST_PAGE_SIZE,
    )
    claim_list_audit(actor=Actor.from_user(request.user), claims=page.rows, page=page.number)
    return render(request, "portal/billing/claims.html", {"page": page})


class ClaimForm(PortalForm):
    encounter_id = forms.CharField(widget=forms.HiddenInput)
    payer_code = forms.ChoiceField(label="Payer", error_messages={"required": "Select the payer"})
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer_code"].choices = [("", "Select the payer")] + [
            (payer.code, f"{payer.name} ({payer.code})") for payer in payer_list()
        ]


class LineItemForm(PortalForm):
    procedure_code = forms.CharField(label="Procedure code", required=False, max_length=5)
    diagnosis_codes = forms.CharField(label="Diagnosis codes", required=False, max_length=60)
    units = forms.IntegerField(label="Units", required=False, min_value=1, max_value=99)
    unit_price = forms.DecimalField(
        label="Unit price (USD)",
        required=False,
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("100000"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        procedure, diagnosis = self.fields["procedure_code"].widget, self.fields["diagnosis_codes"].widget
        procedure.attrs.update({"list": "procedure-codes", "autocomplete": "off", "placeholder": "99213"})
        diagnosis.attrs.update({"list": "diagnosis-codes", "autocomplete": "off", "placeholder": "I10, E11.9"})
        self.fields["units"].widget.attrs.update({"data-line": "units", "inputmode": "numeric"})
        self.fields["unit_price"].widget.attrs.update({"data-line": "price", "inputmode": "decimal", "step": "0.01"})

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) for name in ("procedure_code", "diagnosis_codes", "unit_price"))

    def clean(self):
        data = super().clean()
        if self.is_blank:
            return data
        procedure = (data.get("procedure_code") or "").strip().upper()
        codes = [code.strip().upper() for code in (data.get("diagnosis_codes") or "").split(",") if code.strip()]
        if not procedure:
            self.add_error("procedure_code", "Enter the procedure code")
        elif problem := procedure_code_problem(procedure):
            self.add_error("procedure_code", problem)
        if not codes:
            self.add_error("diagnosis_codes", "Enter at least one diagnosis code")
        elif problems := diagnosis_codes_problems(codes):
            self.add_error("diagnosis_codes", " ".join(problems))
        if data.get("unit_price") is None and "unit_price" not in self.errors:
            self.add_error("unit_price", "Enter the unit price")
        data["procedure_code"], data["diagnosis_codes"] = procedure, tuple(codes)
        data["units"] = data.get("units") or 1
        return data

    def line_item(self) -> LineItemInput:
        data = self.cleaned_data
        return LineItemInput(
            procedure_code=data["procedure_code"],
            diagnosis_codes=data["diagnosis_codes"],
            units=data["units"],
            unit_price=data["unit_price"],
        )


LineItemFormSet = forms.formset_factory(LineItemForm, extra=CLAIM_LINE_ROWS, max_num=50, absolute_max=50)


def _encounter_to_bill(raw_id: str | None):
    try:
        encounter = encounter_get(encounter_id=raw_id) if raw_id else None
    except (InvalidShardedId, ValueError):
        encounter = None
    if encounter is None:
        raise Http404("No visit with this number. Choose one from Ready to bill.")
    return encounter


def _encounter_to_bill_read(request, raw_id: str | None):
    """The visit the form bills, read as GET /api/encounters/{id} reads it (row rule, one audit
    event with the payment purpose)."""
    if not raw_id:
        raise Http404("No visit with this number. Choose one from Ready to bill.")
    try:
        encounter, _access = encounter_read(actor=Actor.from_user(request.user), encounter_id=raw_id)
    except EncounterNotVisible as exc:
        raise Http404("No visit with this number. Choose one from Ready to bill.") from exc
    return encounter


def _lines_total(lines) -> Decimal:
    total = Decimal("0.00")
    for line in lines.forms:
        data = getattr(line, "cleaned_data", None) or {}
        if data.get("unit_price") is not None:
            total += data["unit_price"] * (data.get("units") or 1)
    return total.quantize(Decimal("0.01"))


@require_http_methods(["GET", "POST"])
@persona_required(PersonaRole.BILLING_ADMIN)
@through_gateway
def claim_submit_page(request):
    if request.method == "GET":
        encounter = _encounter_to_bill_read(request, request.GET.get("encounter"))
        form = ClaimForm(initial={"encounter_id": encounter.id, "idempotency_key": uuid.uuid4().hex})
        lines = LineItemFormSet(prefix="lines", initial=[{"units": 1}])
        return _claim_form_page(request, encounter, form, lines)
    form = ClaimForm(request.POST)
    lines = LineItemFormSet(request.POST, prefix="lines")
    encounter = _encounter_to_bill(request.POST.get("encounter_id"))
    error = None
    if form.is_valid() & lines.is_valid():
        items = [line.line_item() for line in lines.forms if not line.is_blank]
        if not items:
            form.add_error(None, "Add at least one line item: a procedure code, its diagnosis codes and a price.")
        else:
            with participant_span(Participant.BILLING_SERVICE_API):
                try:
                    submission = claim_submit(
                        actor=Actor.from_user(request.user),
                        user=request.user,
                        patient_id=encounter.patient_id,
                        encounter_id=encounter.id,
                        payer_code=form.cleaned_data["payer_code"],
                        currency="USD",
                        line_items=items,
                        idempotency_key=form.cleaned_data["idempotency_key"],
                    )
                except REFUSALS as exc:
                    error = form_error_add(form, exc)
            if error is None:
                if submission.created:
                    messages.success(request, f"Claim submitted for {submission.claim.total_amount} USD.")
                return redirect("portal-claim", claim_id=submission.claim.id)
    status = status_for(form, error) if error or form.errors else 422
    return _claim_form_page(request, encounter, form, lines, status=status)


def _claim_form_page(request, encounter, form, lines, *, status=200):
    line_errors = [
        (index, line[name], message)
        for index, line in enumerate(lines.forms, start=1)
        for name, messages_ in line.errors.items()
        for message in messages_
    ]
    context = {
        "encounter": encounter,
        "patient": encounter.patient,
        "form": form,
        "lines": lines,
        "line_errors": line_errors,
        "has_errors": bool(form.errors or line_errors or lines.non_form_errors()),
        "total": _lines_total(lines) if lines.is_bound else Decimal("0.00"),
    }
    return render(request, "portal/billing/claim_form.html", context, status=status)


@require_GET
@persona_required(PersonaRole.BILLING_ADMIN)
def code_suggestions(request):
    """<option>s for the code inputs' datalists (htmx type-ahead from the shipped code sets). For
    diagnosis codes the last comma-separated code is completed."""
    kind = "diagnosis" if request.GET.get("kind") == "diagnosis" else "procedure"
    typed = next((value for name, value in request.GET.items() if name != "kind"), "")[:60]
    head, _, last = typed.rpartition(",")
    prefix = f"{head}, " if head.strip() else ""
    options = [
        (f"{prefix}{code}" if kind == "diagnosis" else code, code, display)
        for code, display in code_search(kind, last if kind == "diagnosis" else typed)
    ]
    return render(request, "portal/billing/_code_options.html", {"options": options})


@require_GET
@persona_required(*CLAIM_READERS)
def claim_page(request, claim_id: str):
    try:
        claim = claim_get(claim_id=int(claim_id))
    except (ValueError, InvalidShardedId):
        claim = None
    if claim is None:
        raise Http404("No claim with this number. Open claims from the Claims list.")
    # Access policy: the read is audited; operators get the operations view (no diagnosis codes).
    actor = Actor.from_user(request.user)
    view = claim_read_view(actor=actor, fhir=False)
    claim_read_audit(
        actor=actor, using=claim._state.db, patient_id=claim.patient_id, claim_id=claim.id, view=view, fhir=False
    )
    billing = view == ClaimView.BILLING
    lines = claim_line_items(claim=claim)
    for line in lines:
        line.procedure_display = procedure_display(line.procedure_code)
        line.diagnoses = [(code, diagnosis_display(code)) for code in line.diagnosis_codes] if billing else []
    context = {
        "claim": claim,
        "encounter": claim.encounter,
        "lines": lines,
        "trace_url": trace_link(claim.trace_id),
        "fhir_url": f"/api/claims/{claim.id}?format=fhir" if billing else "",
    }
    return render(request, "portal/billing/claim_detail.html", context)
