"""Writes of the platform core: the persona users every front end, probe and drill acts as."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from .models import Persona

CATALOG = "default"


@dataclass(frozen=True)
class PersonaUser:
    user: AbstractBaseUser
    user_created: bool


def persona_user_ensure(
    *,
    username: str,
    role: str,
    display_name: str,
    patient_id: int | None = None,
    password_hash: str | None = None,
    email: str | None = None,
    is_admin: bool = False,
) -> PersonaUser:
    """The user ``username`` with a persona of ``role`` (for a patient persona, linked to
    ``patient_id``), created where missing. Idempotent.

    A new user gets ``password_hash``; without one the user has no usable password and signs in
    with the token only (synthetic probe and drill users), and an existing user is made so too.
    An existing persona whose role or patient changed is relinked (the shards may have been reset
    under an existing catalog). An existing user's password and flags are otherwise left alone."""
    with transaction.atomic(using=CATALOG):
        user, user_created = (
            get_user_model()
            .objects.db_manager(CATALOG)
            .get_or_create(
                username=username,
                defaults={
                    "email": email if email is not None else f"{username}@pimlab.example.test",
                    # Staff may use the admin within their model permissions; no persona is a superuser.
                    "is_staff": is_admin,
                    "is_superuser": False,
                },
            )
        )
        if user_created and password_hash:
            user.password = password_hash
            user.save(using=CATALOG, update_fields=["password"])
        elif password_hash is None and user.has_usable_password():
            user.set_unusable_password()
            user.save(using=CATALOG, update_fields=["password"])
        persona, persona_created = Persona.objects.using(CATALOG).get_or_create(
            user=user, defaults={"role": role, "patient_id": patient_id, "display_name": display_name}
        )
        if not persona_created and (persona.role, persona.patient_id) != (role, patient_id):
            persona.role, persona.patient_id, persona.display_name = role, patient_id, display_name
            persona.save(using=CATALOG, update_fields=["role", "patient_id", "display_name"])
    # API tokens are issued when needed (apps.core.tokens.api_token_issue): stored hashed, shown once.
    return PersonaUser(user=user, user_created=user_created)
