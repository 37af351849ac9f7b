"""Who may open the console and who may act in it, and how refusals are shown."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from apps.core.models import PersonaRole
from apps.core.permissions import persona_role

READ_ROLES = frozenset({PersonaRole.SRE, PersonaRole.OPERATOR})
# Drills are governed for SREs only, as in the chaos API (IsSRE).
ACT_ROLES = frozenset({PersonaRole.SRE})


def _guard(roles, message):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if persona_role(request.user) not in roles:
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


console_reader = _guard(READ_ROLES, "The SRE console is for SREs and operators.")
console_actor = _guard(ACT_ROLES, "Only an SRE may act on chaos drills.")


def can_act(user) -> bool:
    return persona_role(user) in ACT_ROLES


def refusal(exc: Exception, *, title: str = "Request refused") -> dict:
    """Title, detail and remediation of a refusal: a DomainError's own, else from the message."""
    detail = getattr(exc, "detail", None) or str(exc)
    return {
        "title": getattr(exc, "title", None) or title,
        "detail": detail,
        "remediation": getattr(exc, "remediation", None) or detail,
        "code": getattr(exc, "code", ""),
    }
