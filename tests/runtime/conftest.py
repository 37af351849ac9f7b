from tests.encounters.conftest import *  # noqa: F403
