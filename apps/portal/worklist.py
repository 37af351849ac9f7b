"""Clinician: the worklist of visits of the clinician's care-team patients (nobody else's)."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.actors import Actor
from apps.core.models import PersonaRole
from apps.core.pagination import page_number, paginate_across_shards
from apps.encounters.access import encounter_list_audit
from apps.encounters.selectors import WorklistScope, clinician_worklist

from .access import persona_required

WORKLIST_PAGE_SIZE = 20


@require_GET
@persona_required(PersonaRole.CLINICIAN)
def worklist_page(request):
    scope = request.GET.get("scope", WorklistScope.UNFINISHED)
    if scope not in dict(WorklistScope.CHOICES):
        scope = WorklistScope.UNFINISHED
    search = request.GET.get("q", "")[:80]
    page = paginate_across_shards(
        clinician_worklist(clinician_user_id=request.user.pk, scope=scope, search=search),
        key=lambda encounter: (encounter.requested_start, encounter.id),
        number=page_number(request.GET.get("page")),
        per_page=WORKLIST_PAGE_SIZE,
    )
    encounter_list_audit(actor=Actor.from_user(request.user), encounters=page.rows, page=page.number)
    context = {"page": page, "scope": scope, "scopes": WorklistScope.CHOICES, "search": search}
    return render(request, "portal/clinician/worklist.html", context)
