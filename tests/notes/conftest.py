import pytest

from tests.notes.helpers import note_world


@pytest.fixture
def world():
    return note_world()
