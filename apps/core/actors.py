from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who performs an action: passed explicitly to services, audit and telemetry."""

    user_id: int | None
    role: str
    display_name: str = ""
    # A patient persona's own patient record (row rules compare it with the row's patient).
    patient_id: int | None = None

    @classmethod
    def from_user(cls, user) -> Actor:
        persona = getattr(user, "persona", None) if user is not None and user.is_authenticated else None
        if persona is None:
            return cls(
                user_id=getattr(user, "pk", None),
                role="anonymous" if user is None or not user.is_authenticated else "staff",
            )
        return cls(user_id=user.pk, role=persona.role, display_name=persona.display_name, patient_id=persona.patient_id)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(user_id=None, role="system", display_name=name)
