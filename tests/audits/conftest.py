import pytest

from tests.audits.audit_store_control import ensure_default_shard_map


@pytest.fixture(autouse=True)
def default_shard_map(request):
    if request.node.get_closest_marker("django_db"):
        request.getfixturevalue("django_db_setup")
        ensure_default_shard_map()
