"""Shared fixtures. Tests run against the local PostgreSQL (catalog, two shards, audit store) and Redis."""

from __future__ import annotations

import contextlib

import pytest

from apps.core.resolver import resolver


@pytest.fixture(autouse=True)
def fresh_correlation_context():
    """Each test starts outside any span and with no bound log fields: a span or a binding a
    previous test left current would make this test's work join that test's trace."""
    import structlog
    from opentelemetry import context as otel_context

    structlog.contextvars.clear_contextvars()
    token = otel_context.attach(otel_context.Context())
    yield
    # The test may have run its work in another context; then there is nothing of ours to restore.
    with contextlib.suppress(ValueError):
        otel_context.detach(token)
    structlog.contextvars.clear_contextvars()


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
