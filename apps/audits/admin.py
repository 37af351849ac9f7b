"""Read-only admin for the audit trail: nothing here can add, change or delete an audit row."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin_sharding import ShardedModelAdmin, ShardListFilter

from .models import AuditChainHead, AuditEvent, AuditRecord
from .vocabulary import audit_action_canonical


class CanonicalActionMixin:
    """Rows written before the vocabulary was settled keep their text; show its current name too."""

    @admin.display(description="action", ordering="action")
    def action_name(self, obj):
        current = audit_action_canonical(obj.action)
        return current if current == obj.action else f"{current} (stored as {obj.action})"


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(AuditEvent)
class AuditEventAdmin(CanonicalActionMixin, ReadOnlyAdminMixin, ShardedModelAdmin):
    list_display = (
        "id",
        "occurred_at",
        "action_name",
        "outcome",
        "resource_type",
        "resource_id",
        "actor_role",
        "shipped",
    )
    list_filter = (ShardListFilter, "outcome", "action", "actor_role")
    search_fields = ("=resource_id", "=request_id", "=trace_id", "=patient_id")
    date_hierarchy = None
    ordering = ("-occurred_at",)

    @admin.display(boolean=True, description="shipped")
    def shipped(self, obj):
        return obj.shipped_at is not None


@admin.register(AuditRecord)
class AuditRecordAdmin(CanonicalActionMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("shard_alias", "sequence", "occurred_at", "action_name", "outcome", "resource_id", "actor_role")
    list_filter = ("shard_alias", "outcome", "action")
    search_fields = ("=resource_id", "=request_id", "=trace_id", "=patient_id", "=source_event_id")
    ordering = ("shard_alias", "-sequence")


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("shard_alias", "last_sequence", "last_hash", "updated_at")
