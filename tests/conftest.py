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
