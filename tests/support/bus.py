"""This checkout's own Redis database (PIMLAB_TEST_REDIS_DB), which holds the event bus's streams."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

from apps.outbox.eventbus import reset_event_bus


def redis_flush() -> None:
    """Empty this checkout's own Redis database and forget the bus client."""
    redis.Redis.from_url(settings.PIMLAB_REDIS_URL).flushdb()
    reset_event_bus()


@contextmanager
def redis_emptied() -> Iterator[redis.Redis]:
    """The event bus's Redis database, empty when the block starts and when it ends."""
    client = redis.Redis.from_url(settings.PIMLAB_EVENTBUS_URL)
    reset_event_bus()
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        reset_event_bus()
