"""A short-lived, per-process cache of token digest → (user, token) for API authentication.

Every API request used to spend one catalog round trip (and, with connection health checks, a
second one) resolving its token to a user and persona. Tokens and personas change rarely, so each
worker keeps what it resolved for ``PIMLAB_TOKEN_CACHE_SECONDS`` (default 10 s; 0 turns the cache
off).

Invalidation: saving or deleting a Token, a user or a Persona through the ORM drops the affected
entries in the process that made the change at once (signals, connected in ``CoreConfig.ready``).
Other processes (the other gunicorn workers) notice within the TTL, and so does this one after a
bulk ``QuerySet.update()`` (which sends no signal). That TTL is the bound on how long a revoked
token or a deactivated user can still be accepted; keep it short."""

from __future__ import annotations

import copy
import threading
import time

from django.conf import settings
from django.utils import timezone

# Enough for every persona of a large lab; the oldest entries go first when it is full.
MAX_ENTRIES = 10_000


class TokenIdentityCache:
    def __init__(self, *, max_entries: int = MAX_ENTRIES):
        self._entries: dict[str, tuple[float, object, object]] = {}
        self._lock = threading.Lock()
        self._max_entries = max_entries

    @staticmethod
    def ttl_seconds() -> float:
        return float(settings.PIMLAB_TOKEN_CACHE_SECONDS)

    def get(self, key: str):
        """(user, token) for ``key`` when cached and fresh, else None. The user is a copy, so a
        request that changes its ``request.user`` never changes what the next request sees."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, user, token = entry
        if time.monotonic() >= expires_at:
            with self._lock:
                self._entries.pop(key, None)
            return None
        return copy.copy(user), token

    def put(self, key: str, user, token, *, expires_at=None) -> None:
        """Cache for the TTL, and never past ``expires_at`` (the token's own expiry)."""
        ttl = self.ttl_seconds()
        if expires_at is not None:
            ttl = min(ttl, (expires_at - timezone.now()).total_seconds())
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (time.monotonic() + ttl, copy.copy(user), token)

    def forget_key(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget_user(self, user_id) -> None:
        with self._lock:
            for key in [k for k, (_, user, _) in self._entries.items() if user.pk == user_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


token_identity_cache = TokenIdentityCache()


def forget_token(sender, instance, **kwargs) -> None:
    # Entries are keyed by the token's digest (what knox stores), never by the token itself.
    token_identity_cache.forget_key(instance.digest)


def forget_user(sender, instance, **kwargs) -> None:
    token_identity_cache.forget_user(instance.pk)


def forget_persona_user(sender, instance, **kwargs) -> None:
    token_identity_cache.forget_user(instance.user_id)


def connect_invalidation() -> None:
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save
    from knox.models import AuthToken as Token

    from .models import Persona

    for signal in (post_save, post_delete):
        signal.connect(forget_token, sender=Token, dispatch_uid=f"pimlab-token-cache-token-{signal is post_save}")
        signal.connect(
            forget_user, sender=get_user_model(), dispatch_uid=f"pimlab-token-cache-user-{signal is post_save}"
        )
        signal.connect(
            forget_persona_user, sender=Persona, dispatch_uid=f"pimlab-token-cache-persona-{signal is post_save}"
        )
