"""django-simple-history settings for patient-owned models.

The user table lives in the catalog and history rows on a shard, so the acting user is kept as
a plain id rather than a cross-database foreign key."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import models
from simple_history.manager import HistoryDescriptor
from simple_history.models import HistoricalRecords


def _history_user_getter(historical_instance):
    if historical_instance.history_user_id is None:
        return None
    return get_user_model().objects.using("default").filter(pk=historical_instance.history_user_id).first()


def _history_user_setter(historical_instance, user):
    historical_instance.history_user_id = getattr(user, "pk", None)


class CachedManagerHistoryDescriptor(HistoryDescriptor):
    """``Model.history`` / ``instance.history`` with the manager class built once.

    simple-history's descriptor builds a new manager class (``from_queryset``, which walks the
    queryset class with ``inspect.getmembers``) on every access, and every history row written
    accesses it once: about a tenth of a booking's CPU time. The class depends only on the
    descriptor's manager and queryset classes, so it is built on first use and kept."""

    def __get__(self, instance, owner):
        manager_class = self.__dict__.get("_manager_with_queryset")
        if manager_class is None:
            manager_class = self.manager_class.from_queryset(self.queryset_class)
            self._manager_with_queryset = manager_class
        return manager_class(self.model, instance)


class ShardedHistoricalRecords(HistoricalRecords):
    def finalize(self, sender, **kwargs):
        super().finalize(sender, **kwargs)
        descriptor = sender.__dict__.get(self.manager_name)
        if type(descriptor) is HistoryDescriptor:
            setattr(
                sender,
                self.manager_name,
                CachedManagerHistoryDescriptor(
                    descriptor.model, manager=descriptor.manager_class, queryset=descriptor.queryset_class
                ),
            )


def sharded_history(**kwargs) -> HistoricalRecords:
    return ShardedHistoricalRecords(
        history_user_id_field=models.BigIntegerField(null=True, blank=True),
        history_user_getter=_history_user_getter,
        history_user_setter=_history_user_setter,
        use_base_model_db=True,
        **kwargs,
    )
