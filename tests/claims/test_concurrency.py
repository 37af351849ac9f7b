"""Concurrent submissions race on real PostgreSQL transactions: one claim per encounter, one per key."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connections

from apps.claims.models import Claim
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def race(client, bodies_and_keys):
    barrier = threading.Barrier(len(bodies_and_keys))
    results = [None] * len(bodies_and_keys)

    def submit(index, body, key):
        try:
            barrier.wait()
            results[index] = post_claim(client, body, key=key).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(i, b, k)) for i, (b, k) in enumerate(bodies_and_keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


def test_two_keys_for_one_encounter_make_one_claim_and_one_violation(billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory()
    body = claim_body(encounter)
    assert race(client, [(body, str(uuid.uuid4())), (body, str(uuid.uuid4()))]) == [202, 403]
    assert Claim.objects.using(encounter._state.db).count() == 1


def test_one_key_twice_at_once_makes_one_claim_and_two_202s(billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory()
    body = claim_body(encounter)
    assert race(client, [(body, "same-key"), (body, "same-key")]) == [202, 202]
    assert Claim.objects.using(encounter._state.db).count() == 1
