from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from apps.core.admin_sharding import ShardedModelAdmin, ShardListFilter

from .models import Encounter


@admin.register(Encounter)
class EncounterAdmin(ShardedModelAdmin, SimpleHistoryAdmin):
    list_display = (
        "id",
        "patient_id",
        "encounter_type",
        "status",
        "requested_start",
        "booked_by_user_id",
        "clinician_user_id",
        "note_status",
        "created_at",
    )
    list_filter = (ShardListFilter, "status", "encounter_type", "note_status")
    search_fields = ("=id", "=patient__id", "=idempotency_key", "=booked_by_user_id")
    date_hierarchy = "requested_start"
    raw_id_fields = ("patient",)
    readonly_fields = ("id", "idempotency_key", "request_fingerprint", "booked_by_user_id", "created_at", "updated_at")
    list_select_related = False
