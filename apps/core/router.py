"""Database router: catalog models to ``default``, audit-store models to ``audit``, patient-owned
models to the shard their id names. A sharded query with no shard fails loudly."""

from __future__ import annotations

from django.apps import apps as global_apps

from .models import Placement


class ShardRoutingError(RuntimeError):
    pass


def placement_of(model) -> str:
    placement = getattr(model, "pimlab_placement", None)
    if placement is None:
        # django-simple-history's historical models sit beside the model they record.
        original = getattr(model, "instance_type", None)
        placement = getattr(original, "pimlab_placement", None)
    return placement or Placement.CATALOG


def _is_shard_alias(db: str) -> bool:
    from django.conf import settings

    return db in settings.SHARD_ALIASES


class ShardRouter:
    def _route(self, model, hints) -> str:
        placement = placement_of(model)
        if placement == Placement.CATALOG:
            return "default"
        if placement == Placement.AUDIT:
            return "audit"
        instance = hints.get("instance")
        if instance is not None:
            if instance._state.db:
                return instance._state.db
            key = getattr(instance, "pk", None)
            if key is None and hasattr(instance, "assign_id"):
                key = instance.assign_id()
            if key is not None:
                from .resolver import shard_for_id

                return shard_for_id(key)
        from .sharding import scoped_shard

        scoped = scoped_shard()
        if scoped is not None:
            return scoped
        raise ShardRoutingError(
            f"{model._meta.label} lives on a shard: use .using(alias) or "
            "apps.core.sharding helpers (for_id/on_shard) to say which one."
        )

    def db_for_read(self, model, **hints):
        return self._route(model, hints)

    def db_for_write(self, model, **hints):
        return self._route(model, hints)

    def allow_relation(self, obj1, obj2, **hints):
        if obj1._state.db and obj2._state.db:
            return obj1._state.db == obj2._state.db
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # Migration-state models lack class attributes: look the real model up by name.
        model = None
        model_name = model_name or getattr(getattr(hints.get("model"), "_meta", None), "model_name", None)
        if model_name is not None:
            try:
                model = global_apps.get_model(app_label, model_name)
            except LookupError:
                model = None
        if model is None:
            # Data migrations without a model run where the app's catalog tables live.
            return db == "default"
        placement = placement_of(model)
        if placement == Placement.SHARD:
            return _is_shard_alias(db)
        if placement == Placement.AUDIT:
            return db == "audit"
        return db == "default"
