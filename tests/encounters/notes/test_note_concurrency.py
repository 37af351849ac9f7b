"""Two clinicians saving the same version at the same time: exactly one wins, the other gets 412."""

import threading

import pytest
from django.db import connections

from apps.encounters.models import Encounter
from tests.encounters.notes.note_scenario import note_world, patch_note
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_concurrent_updates_of_one_version_cannot_both_win():
    world = note_world()
    tokens = [world.tokens["care_team_clinician"], world.tokens["assigned_clinician"]]
    barrier = threading.Barrier(len(tokens))
    results = {}

    def save(token):
        try:
            client = api_client(token)
            barrier.wait()
            response = patch_note(client, world.encounter.id, {"text": f"Written by {token[:6]}"}, version=0)
            results[token] = (response.status_code, response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 412]
    winner = next(body for status, body in results.values() if status == 200)
    loser = next(body for status, body in results.values() if status == 412)
    assert loser["current_version"] == 1
    stored = Encounter.objects.using(world.encounter._state.db).get(id=world.encounter.id)
    assert stored.note_version == 1 and stored.note_text == winner["note"]["text"]
    assert Encounter.history.using(stored._state.db).filter(id=stored.id, note_version=1).count() == 1
