"""Helpers for reading and writing patient-owned rows on the right shard."""

from __future__ import annotations

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
