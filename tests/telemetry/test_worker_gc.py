"""Web workers freeze their long-lived objects out of full garbage collections: once when the app
is loaded and once more after the first request (which builds what Django loads lazily)."""

from __future__ import annotations

import gc

import pytest
from django.core.signals import request_finished
from django.test import Client

from pimlab_portal import worker_gc


@pytest.fixture
def freezes(monkeypatch):
    """Counts the freezes (each one real) and undoes them after the test."""
    calls = []
    real = worker_gc.gc_freeze_long_lived

    def counted() -> None:
        calls.append(gc.get_freeze_count())
        real()

    gc.unfreeze()
    monkeypatch.setattr(worker_gc, "gc_freeze_long_lived", counted)
    yield calls
    request_finished.disconnect(dispatch_uid=worker_gc._DISPATCH_UID)
    gc.unfreeze()


def test_objects_are_frozen_at_load_and_again_after_the_first_request_only(freezes):
    worker_gc.gc_freeze_now_and_after_first_request()
    assert len(freezes) == 1 and gc.get_freeze_count() > 0

    assert Client().get("/healthz").status_code == 200
    assert len(freezes) == 2
    built_by_a_request = {"kept": [object() for _ in range(3)]}
    before = gc.get_freeze_count()

    assert Client().get("/healthz").status_code == 200
    assert Client().get("/healthz").status_code == 200
    assert len(freezes) == 2  # no freeze per request: only after the first one
    assert gc.get_freeze_count() <= before and gc.is_tracked(built_by_a_request)
