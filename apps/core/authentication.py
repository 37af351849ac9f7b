from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from apps.telemetry import context


class PersonaTokenAuthentication(TokenAuthentication):
    """Token auth that loads the persona in the same query and binds it to the log/trace context."""

    def authenticate_credentials(self, key):
        try:
            token = Token.objects.select_related("user__persona").get(key=key)
        except Token.DoesNotExist:
            raise AuthenticationFailed("Invalid token. Get yours with `python manage.py persona_tokens`.") from None
        if not token.user.is_active:
            raise AuthenticationFailed("This persona's user is inactive.")
        persona = getattr(token.user, "persona", None)
        role = persona.role if persona is not None else "staff"
        context.bind(user_id=token.user.pk, persona=role, actor_role=role)
        return token.user, token
