from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connections

from tests.support.bus import redis_flush
from tests.support.claims import ensure_reference_data


class PipelineWorkers:
    """The outbox relay and the projection consumer, draining in a thread while a probe runs.

    They run the same functions the Celery relay task and the projection worker run; the probe under
    test only talks HTTP to the live server and waits for their effects."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="probe-test-pipeline", daemon=True)
        self.error: BaseException | None = None

    def _loop(self):
        from apps.outbox.eventbus import get_event_bus
        from apps.outbox.relay import outbox_relay_drain
        from apps.projections.consumer import ProjectionConsumer

        try:
            consumer = ProjectionConsumer(bus=get_event_bus(), consumer="probe-test")
            while not self._stop.is_set():
                for alias in settings.SHARD_ALIASES:
                    outbox_relay_drain(shard_alias=alias)
                consumer.drain()
                self._stop.wait(0.2)
        except BaseException as exc:  # surfaced by the test through `error`
            self.error = exc
        finally:
            connections.close_all()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture
def probe_world(request):
    """Reference data, an empty Redis and the synthetic personas on every shard."""
    request.getfixturevalue("_django_db_helper")
    ensure_reference_data()
    from apps.encounters.notes.glossary import glossary_cache, glossary_terms_load

    glossary_terms_load()
    glossary_cache.forget()
    redis_flush()
    from apps.probes.personas import probe_personas_ensure

    targets = probe_personas_ensure()
    yield targets
    redis_flush()


@pytest.fixture
def pipeline_workers():
    with PipelineWorkers() as workers:
        yield workers
    assert workers.error is None, workers.error
