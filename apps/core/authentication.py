from __future__ import annotations

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from apps.telemetry import context

from .identity_cache import token_identity_cache

# The request attribute where the early identity lookup leaves its result for DRF.
EARLY_AUTH_ATTRIBUTE = "pimlab_token_auth"


class PersonaTokenAuthentication(TokenAuthentication):
    """Token auth that loads the persona in the same query and binds it to the log/trace context."""

    def authenticate(self, request):
        # The token was already resolved when the request started (see bind_request_identity).
        early = getattr(getattr(request, "_request", request), EARLY_AUTH_ATTRIBUTE, None)
        if early is not None:
            return early
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        cached = token_identity_cache.get(key)
        if cached is not None:
            user, token = cached
        else:
            try:
                token = Token.objects.select_related("user__persona").get(key=key)
            except Token.DoesNotExist:
                raise AuthenticationFailed("Invalid token. Get yours with `python manage.py persona_tokens`.") from None
            user = token.user
            if user.is_active:
                # Only accepted identities are cached: a refused token is looked up again next time.
                token_identity_cache.put(key, user, token)
        if not user.is_active:
            raise AuthenticationFailed("This persona's user is inactive.")
        persona = getattr(user, "persona", None)
        role = persona.role if persona is not None else "staff"
        context.bind(user_id=user.pk, persona=role, actor_role=role)
        return user, token


def _role_of(user) -> str:
    if user is None or not user.is_authenticated:
        return "anonymous"
    persona = getattr(user, "persona", None)
    return persona.role if persona is not None else "staff"


def bind_request_identity(sender=None, request=None, **kwargs) -> None:
    """Bind user_id, persona and actor_role before the first log line of a request.

    django-structlog sends this signal before it logs ``request_started``; DRF authenticates
    only inside the view, so a token is resolved here once and handed on to DRF."""
    user = None
    auth = get_authorization_header(request).split()
    if len(auth) == 2 and auth[0].lower() == b"token":
        try:
            user, token = PersonaTokenAuthentication().authenticate_credentials(auth[1].decode())
        except (AuthenticationFailed, UnicodeError):
            user = None  # DRF answers 401 with the reason when the view authenticates.
        else:
            setattr(request, EARLY_AUTH_ATTRIBUTE, (user, token))
    elif hasattr(request, "user") and request.user.is_authenticated:
        user = request.user
    role = _role_of(user)
    request.pimlab_persona_role = role
    context.bind(user_id=getattr(user, "pk", None), persona=role, actor_role=role)
