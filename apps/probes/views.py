from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.models import PersonaRole
from apps.core.permissions import persona_role

from .selectors import sequence_pairs

SEQUENCE_ROLES = {PersonaRole.SRE, PersonaRole.OPERATOR}


@require_GET
@login_required
def sequences_page(request):
    """The catalog's sequence diagram of each scenario beside the one derived from its recorded trace."""
    if persona_role(request.user) not in SEQUENCE_ROLES and not request.user.is_staff:
        raise PermissionDenied("The sequence pages are for SREs and operators.")
    return render(request, "probes/sequences.html", {"pairs": sequence_pairs()})
