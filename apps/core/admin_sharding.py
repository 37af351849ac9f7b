"""Admin support for patient-owned models: pick a shard with a filter, open any row by its id.

Each view runs inside ``shard_scope`` of the shard it works on, so the admin's own querysets
(related-object widgets, delete confirmation, history) reach that shard."""

from __future__ import annotations

from urllib.parse import parse_qs

from django.conf import settings
from django.contrib import admin

from .ids import InvalidShardedId
from .resolver import ShardMapMissing, shard_for_id
from .sharding import scoped_shard, shard_scope


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


def shard_from_request(request) -> str:
    """The shard named by ``?shard=`` (or by the changelist filters the admin carries along)."""
    alias = request.GET.get(ShardListFilter.parameter_name)
    if alias is None and "_changelist_filters" in request.GET:
        alias = parse_qs(request.GET["_changelist_filters"]).get(ShardListFilter.parameter_name, [None])[0]
    return alias if alias in settings.SHARD_ALIASES else settings.SHARD_ALIASES[0]


def _shard_of(object_id) -> str | None:
    try:
        return shard_for_id(object_id)
    except (InvalidShardedId, ShardMapMissing):
        return None


def _rendered(response):
    # Admin views answer lazy TemplateResponses: render while the shard scope is still active.
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    return response


class ShardedModelAdmin(admin.ModelAdmin):
    """Lists one shard at a time (the shard filter) and routes single objects by their id."""

    list_filter: tuple = (ShardListFilter,)

    def _shard_from_request(self, request) -> str:
        return shard_from_request(request)

    def get_queryset(self, request):
        # Inside a view about one object, its shard; on the list, the shard filter's.
        return super().get_queryset(request).using(scoped_shard() or self._shard_from_request(request))

    def get_object(self, request, object_id, from_field=None):
        alias = _shard_of(object_id)
        if alias is None:
            return None
        queryset = self.model._default_manager.using(alias)
        field = self.model._meta.pk if from_field is None else self.model._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (self.model.DoesNotExist, ValueError):
            return None

    def _view_shard(self, request, object_id=None) -> str:
        return (_shard_of(object_id) if object_id else None) or self._shard_from_request(request)

    def changelist_view(self, request, extra_context=None):
        with shard_scope(self._shard_from_request(request)):
            return _rendered(super().changelist_view(request, extra_context))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with shard_scope(self._view_shard(request, object_id)):
            return _rendered(super().changeform_view(request, object_id, form_url, extra_context))

    def delete_view(self, request, object_id, extra_context=None):
        with shard_scope(self._view_shard(request, object_id)):
            return _rendered(super().delete_view(request, object_id, extra_context))

    def history_view(self, request, object_id, extra_context=None):
        with shard_scope(self._view_shard(request, object_id)):
            return _rendered(super().history_view(request, object_id, extra_context))

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """One historical version (django-simple-history admins only)."""
        with shard_scope(self._view_shard(request, object_id)):
            return _rendered(super().history_form_view(request, object_id, version_id, extra_context))

    def save_model(self, request, obj, form, change):
        obj.save(using=obj._state.db or shard_for_id(obj.assign_id()))

    def delete_model(self, request, obj):
        obj.delete(using=obj._state.db)
