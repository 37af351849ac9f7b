"""Helpers for reading and writing patient-owned rows on the right shard."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.conf import settings
from django.db import models

from .resolver import shard_for_id


def all_shards() -> list[str]:
    return list(settings.SHARD_ALIASES)


def for_id(model: type[models.Model], sharded_id: int | str) -> models.QuerySet:
    """A queryset for ``model`` on the shard that ``sharded_id`` names."""
    return model._default_manager.using(shard_for_id(sharded_id))


def on_shard(model: type[models.Model], alias: str) -> models.QuerySet:
    return model._default_manager.using(alias)


def across_shards(model: type[models.Model]) -> Iterator[tuple[str, models.QuerySet]]:
    for alias in all_shards():
        yield alias, model._default_manager.using(alias)


_scoped_shard: contextvars.ContextVar[str | None] = contextvars.ContextVar("pimlab_scoped_shard", default=None)


@contextlib.contextmanager
def shard_scope(alias: str) -> Iterator[str]:
    """Route sharded queries that name no shard to ``alias`` inside the block.

    For framework code that builds its own querysets (the admin's related-object widgets, delete
    confirmation, history views); application code names the shard with ``for_id``/``on_shard``."""
    if alias not in settings.SHARD_ALIASES:
        raise ValueError(f"{alias!r} is not a configured shard ({', '.join(settings.SHARD_ALIASES)})")
    token = _scoped_shard.set(alias)
    try:
        yield alias
    finally:
        _scoped_shard.reset(token)


def scoped_shard() -> str | None:
    return _scoped_shard.get()
