"""The state every claims and projection test starts from."""

from __future__ import annotations

from collections.abc import Iterator

from tests.support.bus import redis_flush


def ensure_reference_data() -> None:
    """Transactional tests flush every table, including rows the migrations loaded: put them back
    (the shard map is restored for every database test by tests/conftest.py)."""
    from apps.claims.models import AmountCeiling, Payer, RetentionPolicy
    from apps.claims.reference_data import reference_data_load

    reference_data_load(retention_policy_model=RetentionPolicy, payer_model=Payer, amount_ceiling_model=AmountCeiling)


def claims_lab_reset(request) -> Iterator[None]:
    """Body of an autouse fixture: the claims reference data back for database tests, and this
    checkout's Redis empty before and after the test."""
    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("_django_db_helper")
        ensure_reference_data()
    redis_flush()
    yield
    redis_flush()
