"""Migrations put each table only where its model lives (the router's allow_migrate)."""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connections

from apps.core.models import Placement
from apps.core.router import placement_of

pytestmark = pytest.mark.django_db(databases="__all__")


def expected_aliases(model) -> set[str]:
    placement = placement_of(model)
    if placement == Placement.SHARD:
        return set(settings.SHARD_ALIASES)
    if placement == Placement.AUDIT:
        return {"audit"}
    return {"default"}


def tables_by_alias() -> dict[str, set[str]]:
    return {alias: set(connections[alias].introspection.table_names()) for alias in settings.DATABASES}


def test_every_model_table_exists_exactly_where_it_belongs():
    tables = tables_by_alias()
    checked = 0
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.managed or model._meta.proxy:
            continue
        table = model._meta.db_table
        where = {alias for alias, names in tables.items() if table in names}
        assert where == expected_aliases(model), f"{model._meta.label} ({table}) is on {sorted(where)}"
        checked += 1
    assert checked > 20


def test_the_placement_of_the_core_models():
    tables = tables_by_alias()
    assert "patients_patient" in tables["shard_0"] and "patients_patient" in tables["shard_1"]
    assert "patients_patient" not in tables["default"] | tables["audit"]
    for catalog_table in ("auth_user", "core_persona", "core_shardmapentry", "knox_authtoken"):
        assert catalog_table in tables["default"]
        assert all(catalog_table not in tables[alias] for alias in settings.SHARD_ALIASES)
    assert "django_migrations" in tables["audit"]


def test_the_default_shard_map_covers_every_bucket_evenly():
    from apps.core.models import ShardMapEntry

    entries = list(ShardMapEntry.objects.values_list("bucket_start", "bucket_end", "shard_alias"))
    assert entries == [(0, 511, "shard_0"), (512, 1023, "shard_1")]
