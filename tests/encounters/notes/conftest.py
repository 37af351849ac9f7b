import pytest

from tests.encounters.notes.note_scenario import note_world


@pytest.fixture
def world():
    return note_world()
