"""The per-worker token cache: a second request needs no catalog query, and changes made through
the ORM (token deleted, user deactivated, persona changed) take effect at the next request."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from knox.crypto import hash_token
from knox.models import AuthToken

from apps.core.identity_cache import TokenIdentityCache, token_identity_cache
from apps.core.models import PersonaRole
from tests.factories import persona_user
from tests.support.api import api_client

pytestmark = [
    pytest.mark.django_db(databases="__all__"),
    pytest.mark.urls("tests.core.permission_urls"),
]


@pytest.fixture(autouse=True)
def empty_cache():
    token_identity_cache.clear()
    yield
    token_identity_cache.clear()


def get(path: str, token: str):
    client = api_client(token)
    return client.get(path)


def catalog_queries(path: str, token: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connections["default"]) as queries:
        status = get(path, token).status_code
    return status, [q["sql"] for q in queries.captured_queries]


def test_a_known_token_is_looked_up_once_per_ttl():
    _, token = persona_user(PersonaRole.SRE, username="cached-sre")
    first_status, first = catalog_queries("/guarded/sre/", token)
    second_status, second = catalog_queries("/guarded/sre/", token)
    assert (first_status, second_status) == (200, 200)
    assert len(first) == 1 and second == []


def test_a_deleted_token_is_refused_at_the_next_request():
    _, token = persona_user(PersonaRole.SRE, username="revoked-sre")
    assert get("/guarded/sre/", token).status_code == 200
    AuthToken.objects.get(digest=hash_token(token)).delete()
    assert get("/guarded/sre/", token).status_code == 401


def test_a_deactivated_user_is_refused_at_the_next_request():
    user, token = persona_user(PersonaRole.SRE, username="leaving-sre")
    assert get("/guarded/sre/", token).status_code == 200
    user.is_active = False
    user.save()
    assert get("/guarded/sre/", token).status_code == 401


def test_a_changed_persona_role_applies_at_the_next_request():
    user, token = persona_user(PersonaRole.SRE, username="moving-sre")
    assert get("/guarded/sre/", token).status_code == 200
    persona = user.persona
    persona.role = PersonaRole.OPERATOR
    persona.save()
    assert get("/guarded/sre/", token).status_code == 403
    assert get("/guarded/operator/", token).status_code == 200


def test_a_refused_token_is_not_cached():
    assert get("/guarded/sre/", "0" * 40).status_code == 401
    assert len(token_identity_cache) == 0


def test_entries_expire_and_a_zero_ttl_turns_the_cache_off(settings):
    user, token = persona_user(PersonaRole.SRE, username="ttl-sre")
    cache = TokenIdentityCache()
    settings.PIMLAB_TOKEN_CACHE_SECONDS = 0
    cache.put(token, user, None)
    assert cache.get(token) is None and len(cache) == 0
    settings.PIMLAB_TOKEN_CACHE_SECONDS = -1  # already expired when stored: never served
    cache._entries[token] = (0.0, user, None)
    assert cache.get(token) is None and len(cache) == 0


def test_the_cache_hands_out_copies_and_stays_bounded():
    user, _ = persona_user(PersonaRole.SRE, username="copied-sre")
    cache = TokenIdentityCache(max_entries=2)
    cache.put("a", user, "token-a")
    first, _ = cache.get("a")
    first.username = "changed by a request"
    assert cache.get("a")[0].username == "copied-sre" and cache.get("a")[1] == "token-a"
    cache.put("b", user, "token-b")
    cache.put("c", user, "token-c")
    assert len(cache) == 2 and cache.get("a") is None
