"""Admin support for patient-owned models: pick a shard with a filter, open any row by its id."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from .ids import InvalidShardedId
from .resolver import ShardMapMissing, shard_for_id


class ShardListFilter(admin.SimpleListFilter):
    title = "shard"
    parameter_name = "shard"

    def lookups(self, request, model_admin):
        return [(alias, alias) for alias in settings.SHARD_ALIASES]

    def value(self):
        return super().value() or settings.SHARD_ALIASES[0]

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        return queryset


class ShardedModelAdmin(admin.ModelAdmin):
    """Lists one shard at a time (the shard filter) and routes single objects by their id."""

    list_filter: tuple = (ShardListFilter,)

    def _shard_from_request(self, request) -> str:
        alias = request.GET.get(ShardListFilter.parameter_name)
        return alias if alias in settings.SHARD_ALIASES else settings.SHARD_ALIASES[0]

    def get_queryset(self, request):
        return super().get_queryset(request).using(self._shard_from_request(request))

    def get_object(self, request, object_id, from_field=None):
        try:
            alias = shard_for_id(object_id)
        except (InvalidShardedId, ShardMapMissing):
            return None
        queryset = self.model._default_manager.using(alias)
        field = self.model._meta.pk if from_field is None else self.model._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (self.model.DoesNotExist, ValueError):
            return None

    def save_model(self, request, obj, form, change):
        obj.save(using=obj._state.db or shard_for_id(obj.assign_id()))

    def delete_model(self, request, obj):
        obj.delete(using=obj._state.db)
