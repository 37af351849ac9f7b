"""Admin for clinical notes: the glossary, and the encounter's note history with diffs.

Reverting a clinical note from the admin is disabled: a note changes only through the API,
where it is validated, versioned and audited.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from apps.core.admin_sharding import ShardedModelAdmin, ShardListFilter
from apps.core.resolver import shard_for_id

from ..models import Encounter, GlossaryTerm
from .glossary import glossary_cache
from .selectors import NOTE_FIELDS


@admin.register(GlossaryTerm)
class GlossaryTermAdmin(admin.ModelAdmin):
    list_display = ("term", "canonical", "action", "category", "case_sensitive", "active", "from_data_file")
    list_filter = ("action", "category", "active", "from_data_file")
    search_fields = ("term", "canonical", "guidance")
    list_editable = ("active",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        glossary_cache.forget()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        glossary_cache.forget()


class EncounterNoteHistoryAdminMixin(SimpleHistoryAdmin):
    """History with field-level diffs for a sharded encounter; note fields are read-only and no
    historical version can be restored."""

    history_list_display = ("note_version", "note_status", "note_released", "history_change_reason")

    def get_readonly_fields(self, request, obj=None):
        return tuple(dict.fromkeys((*super().get_readonly_fields(request, obj), *NOTE_FIELDS)))

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        return super().get_history_queryset(request, history_manager.using(shard_for_id(object_id)), pk_name, object_id)

    def revert_disabled(self, request, obj=None):
        return True

    def has_change_history_permission(self, request, obj=None):
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("Clinical notes cannot be reverted from the admin.")
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[object_id]))


class EncounterNoteAdmin(EncounterNoteHistoryAdminMixin, ShardedModelAdmin):
    list_display = ("id", "encounter_type", "status", "requested_start", "note_status", "note_version", "note_released")
    list_filter = (ShardListFilter, "status", "note_status", "note_released")
    search_fields = ("=id",)
    # The patient lives on the same shard; a choice list would query every shard at once.
    readonly_fields = ("patient", "idempotency_key", "request_fingerprint", "booked_by_user_id")


def register_encounter_admin(site: admin.AdminSite = admin.site) -> None:
    """Register Encounter with note history; if another Encounter admin is already registered,
    keep it and add the note-history behaviour on top."""
    existing = site._registry.get(Encounter)
    if existing is None:
        site.register(Encounter, EncounterNoteAdmin)
        return
    if isinstance(existing, EncounterNoteHistoryAdminMixin):
        return
    site.unregister(Encounter)
    site.register(Encounter, type("EncounterAdmin", (EncounterNoteHistoryAdminMixin, type(existing)), {}))
