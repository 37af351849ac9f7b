"""Reusable DRF permission classes, one per persona role."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .models import PersonaRole


def persona_role(user) -> str | None:
    persona = getattr(user, "persona", None) if user is not None and user.is_authenticated else None
    return persona.role if persona is not None else None


class HasPersonaRole(BasePermission):
    allowed_roles: frozenset[str] = frozenset()
    message = "Your persona role may not call this endpoint."

    def has_permission(self, request, view) -> bool:
        role = persona_role(request.user)
        if role in self.allowed_roles:
            return True
        allowed = ", ".join(sorted(self.allowed_roles))
        self.message = f"This endpoint needs a persona with role {allowed}; yours is {role or 'none'}."
        return False

    @classmethod
    def of(cls, *roles: str) -> type[HasPersonaRole]:
        return type(
            f"Has{''.join(r.title().replace('_', '') for r in roles)}Role", (cls,), {"allowed_roles": frozenset(roles)}
        )


IsPatient = HasPersonaRole.of(PersonaRole.PATIENT)
IsClinician = HasPersonaRole.of(PersonaRole.CLINICIAN)
IsBillingAdmin = HasPersonaRole.of(PersonaRole.BILLING_ADMIN)
IsSRE = HasPersonaRole.of(PersonaRole.SRE)
IsOperator = HasPersonaRole.of(PersonaRole.OPERATOR)
