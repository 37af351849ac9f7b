"""API tokens: stored hashed (django-rest-knox: SHA-512 digest, never the token) and expiring.

A token is shown once, when it is issued (``python manage.py persona_tokens`` issues fresh ones);
nothing can read it back afterwards, the admin included."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken


def api_token_ttl() -> timedelta:
    return timedelta(hours=settings.PIMLAB_API_TOKEN_TTL_HOURS)


def api_token_issue(*, user, ttl: timedelta | None = None) -> str:
    """A new token for ``user`` (the only time its text exists outside the caller). The user's
    expired tokens are purged on the way."""
    AuthToken.objects.using("default").filter(user=user, expiry__lte=timezone.now()).delete()
    _, token = AuthToken.objects.db_manager("default").create(user=user, expiry=ttl or api_token_ttl())
    return token


def api_tokens_revoke(*, user) -> int:
    """Delete every token of ``user``; each worker refuses them within PIMLAB_TOKEN_CACHE_SECONDS."""
    deleted = 0
    for token in AuthToken.objects.using("default").filter(user=user):
        token.delete()  # one by one: post_delete drops the token from this process's cache at once
        deleted += 1
    return deleted
