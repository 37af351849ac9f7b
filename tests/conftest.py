"""Shared fixtures. Tests run against the local PostgreSQL (catalog, two shards, audit store) and Redis."""

from __future__ import annotations

import pytest

from apps.core.resolver import resolver


@pytest.fixture(autouse=True)
def fresh_shard_resolver():
    """Each test sees the shard map of its own database state."""
    resolver.forget()
    yield
    resolver.forget()


@pytest.fixture(autouse=True)
def shard_map_present(request):
    """Transactional tests flush the catalog when they end, taking the migrated shard map with
    them; every database test starts from the even split a fresh catalog has."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    databases = marker.kwargs.get("databases")
    if databases != "__all__" and "default" not in (databases or ["default"]):
        return
    request.getfixturevalue("_django_db_helper")
    from apps.core.shard_map import shard_map_spread_evenly

    shard_map_spread_evenly()
