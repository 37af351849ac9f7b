"""End to end: a booking's EncounterCreated event goes from the shard's outbox through the relay
and the event bus (Redis Streams, or the embedded database bus) into the projection read model."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from apps.outbox.embedded_bus import DatabaseEventBus
from apps.outbox.eventbus import RedisStreamsEventBus
from apps.outbox.relay import outbox_relay_drain
from apps.projections.consumer import ProjectionConsumer
from apps.projections.models import EncounterFact
from tests.encounters.conftest import book, booking_body
from tests.factories import care_team_member
from tests.support.bus import redis_emptied

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(params=["redis", "database"])
def bus(request):
    if request.param == "database":
        yield DatabaseEventBus()
        return
    with redis_emptied():
        yield RedisStreamsEventBus(django_settings.PIMLAB_EVENTBUS_URL)


def test_booked_encounters_appear_in_the_projection(bus, patient, other_patient, clinician_persona):
    for p in (patient, other_patient):
        care_team_member(p, clinician_persona[0])
    booked = [book(clinician_persona[1], booking_body(p.id)).json() for p in (patient, other_patient, patient)]
    assert sum(outbox_relay_drain(shard_alias=alias, bus=bus) for alias in ("shard_0", "shard_1")) == 3

    assert ProjectionConsumer(bus=bus, consumer="e2e", batch_size=10).drain() == 3

    facts = {str(f.encounter_id): f for f in EncounterFact.objects.all()}
    assert set(facts) == {b["id"] for b in booked}
    assert {str(facts[b["id"]].patient_id) for b in booked} == {str(patient.id), str(other_patient.id)}
