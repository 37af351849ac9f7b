from tests.access.world import route_world  # noqa: F401
from tests.claims.conftest import clean_redis  # noqa: F401
