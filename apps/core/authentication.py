from __future__ import annotations

from hmac import compare_digest

from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from apps.telemetry import context

from .identity_cache import token_identity_cache

# The request attribute where the early identity lookup leaves its result for DRF.
EARLY_AUTH_ATTRIBUTE = "pimlab_token_auth"
INVALID_TOKEN = "Invalid or expired token. Get a fresh one with `python manage.py persona_tokens`."  # noqa: S105


class PersonaTokenAuthentication(TokenAuthentication):
    """Hashed, expiring tokens (django-rest-knox) that load the persona in the same query and bind
    it to the log/trace context. Accepted identities are cached per worker for at most
    PIMLAB_TOKEN_CACHE_SECONDS (never past the token's expiry): the bound on how long a revoked
    token or a deactivated user can still be accepted by another worker."""

    def authenticate(self, request):
        # The token was already resolved when the request started (see bind_request_identity).
        early = getattr(getattr(request, "_request", request), EARLY_AUTH_ATTRIBUTE, None)
        if early is not None:
            return early
        return super().authenticate(request)

    def authenticate_credentials(self, token):
        key = token.decode() if isinstance(token, bytes) else token
        try:
            digest = hash_token(key)
        except (TypeError, ValueError):
            raise AuthenticationFailed(INVALID_TOKEN) from None
        cached = token_identity_cache.get(digest)
        if cached is not None:
            user, auth_token = cached
        else:
            auth_token = self._lookup(key, digest)
            user = auth_token.user
            if user.is_active:
                # Only accepted identities are cached: a refused token is looked up again next time.
                token_identity_cache.put(digest, user, auth_token, expires_at=auth_token.expiry)
        if auth_token.expiry is not None and auth_token.expiry <= timezone.now():
            raise AuthenticationFailed(INVALID_TOKEN)
        if not user.is_active:
            raise AuthenticationFailed("This persona's user is inactive.")
        persona = getattr(user, "persona", None)
        role = persona.role if persona is not None else "staff"
        context.bind(user_id=user.pk, persona=role, actor_role=role)
        return user, auth_token

    @staticmethod
    def _lookup(key: str, digest: str) -> AuthToken:
        candidates = AuthToken.objects.using("default").select_related("user__persona")
        for auth_token in candidates.filter(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if compare_digest(auth_token.digest, digest):
                return auth_token
        raise AuthenticationFailed(INVALID_TOKEN)


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
