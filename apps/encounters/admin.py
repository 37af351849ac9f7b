from __future__ import annotations

import contextlib

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from apps.audits.admin_access import AuditedPhiAdminMixin
from apps.core.admin_sharding import ShardedModelAdmin, ShardListFilter
from apps.core.ids import InvalidShardedId
from apps.core.resolver import ShardMapMissing, shard_for_id

from .models import Encounter


@admin.register(Encounter)
class EncounterAdmin(AuditedPhiAdminMixin, ShardedModelAdmin, SimpleHistoryAdmin):
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
    readonly_fields = (
        "id",
        "patient",
        "idempotency_key",
        "request_fingerprint",
        "booked_by_user_id",
        # Visit state and who treats the patient change through services (finish, care team).
        "status",
        "clinician_user_id",
        "created_at",
        "updated_at",
    )
    list_select_related = False

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        # History rows sit on the encounter's shard, which its id names.
        try:
            alias = shard_for_id(object_id)
        except (InvalidShardedId, ShardMapMissing):
            return history_manager.none()
        return history_manager.using(alias).filter(**{pk_name: object_id}).order_by("-history_date", "-history_id")

    def history_view(self, request, object_id, extra_context=None):
        # The base view looks the object up through get_queryset: point it at the object's shard.
        request.GET = request.GET.copy()
        with contextlib.suppress(InvalidShardedId, ShardMapMissing):
            request.GET[ShardListFilter.parameter_name] = shard_for_id(object_id)
        return super().history_view(request, object_id, extra_context)

    def has_add_permission(self, request):
        # Bookings go through the API, which writes the audit event and the outbox row with them.
        return False

    def has_delete_permission(self, request, obj=None):
        # Clinical records are kept; nothing in the lab deletes an encounter.
        return False


from .notes.admin import register_encounter_admin  # noqa: E402

# Keep this last: it layers the clinical-note history (diffs, revert disabled) over any Encounter admin above.
register_encounter_admin()
