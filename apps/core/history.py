"""django-simple-history settings for patient-owned models.

The user table lives in the catalog and history rows on a shard, so the acting user is kept as
a plain id rather than a cross-database foreign key."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import models
from simple_history.models import HistoricalRecords


def _history_user_getter(historical_instance):
    if historical_instance.history_user_id is None:
        return None
    return get_user_model().objects.using("default").filter(pk=historical_instance.history_user_id).first()


def _history_user_setter(historical_instance, user):
    historical_instance.history_user_id = getattr(user, "pk", None)


def sharded_history(**kwargs) -> HistoricalRecords:
    return HistoricalRecords(
        history_user_id_field=models.BigIntegerField(null=True, blank=True),
        history_user_getter=_history_user_getter,
        history_user_setter=_history_user_setter,
        use_base_model_db=True,
        **kwargs,
    )
