from django.contrib import admin
from django.utils.html import format_html_join
from simple_history.admin import SimpleHistoryAdmin

from apps.audits.admin_access import AuditedPhiAdminMixin
from apps.core.admin_sharding import ShardedModelAdmin

from .models import (
    AmountCeiling,
    ArchivedClaim,
    Claim,
    ClaimLineItem,
    LegalHold,
    Payer,
    RetentionPolicy,
    StaffPatientRecord,
    retention_floor_days,
)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    """The form runs the model's ``clean``: a retention below the floor is refused with its reason."""

    list_display = ("retention_class", "active_days", "retention_days", "floor_days", "description", "updated_at")
    search_fields = ("retention_class", "description")

    @admin.display(description="floor (days)")
    def floor_days(self, obj) -> int:
        return retention_floor_days(obj.retention_class)


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "retention_class", "active")
    list_filter = ("active", "retention_class")
    search_fields = ("code", "name")


@admin.register(AmountCeiling)
class AmountCeilingAdmin(admin.ModelAdmin):
    list_display = ("role", "max_claim_total", "note")
    search_fields = ("role",)


@admin.register(StaffPatientRecord)
class StaffPatientRecordAdmin(admin.ModelAdmin):
    list_display = ("user", "patient_id", "note")
    search_fields = ("user__username", "user__email", "patient_id")
    raw_id_fields = ("user",)


class NoAddNoDelete:
    """Claims, their lines and payments are written by the claim services (audit + outbox with the
    row): the admin shows them and cannot create or remove them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Claim)
class ClaimAdmin(AuditedPhiAdminMixin, NoAddNoDelete, ShardedModelAdmin, SimpleHistoryAdmin):
    list_display = (
        "id",
        "patient_id",
        "encounter_id",
        "payer_code",
        "status",
        "total_amount",
        "retention_class",
        "submitted_at",
    )
    list_filter = (*ShardedModelAdmin.list_filter, "status", "payer_code", "retention_class")
    search_fields = ("=id", "=patient__id", "=encounter__id", "payer_code")
    readonly_fields = (
        "id",
        "patient",
        "encounter",
        # Money and state change only through claim_submit / claim_payment_record.
        "status",
        "total_amount",
        "paid_amount",
        "paid_at",
        "currency",
        "payer_code",
        "retention_class",
        "submitted_by_user_id",
        "idempotency_key",
        "request_fingerprint",
        "trace_id",
        "submitted_at",
        "line_item_summary",
    )
    date_hierarchy = None

    @admin.display(description="line items")
    def line_item_summary(self, obj):
        items = obj.line_items.using(obj._state.db).order_by("sequence")
        return format_html_join(
            "",
            "<div>{}. {} × {} @ {} ({})</div>",
            ((i.sequence, i.procedure_code, i.units, i.unit_price, ", ".join(i.diagnosis_codes)) for i in items),
        )


@admin.register(ClaimLineItem)
class ClaimLineItemAdmin(AuditedPhiAdminMixin, NoAddNoDelete, ShardedModelAdmin, SimpleHistoryAdmin):
    list_display = ("id", "claim_id", "sequence", "procedure_code", "units", "unit_price", "line_total")
    list_filter = (*ShardedModelAdmin.list_filter,)
    search_fields = ("=claim__id", "procedure_code")
    readonly_fields = ("claim", "sequence", "procedure_code", "diagnosis_codes", "units", "unit_price", "line_total")

    @staticmethod
    def patient_of(obj) -> int:
        return obj.claim.patient_id


@admin.register(ArchivedClaim)
class ArchivedClaimAdmin(AuditedPhiAdminMixin, ShardedModelAdmin):
    """Archive storage: operators can find and read archived claims (each page audited as a read of
    the claim); only the retention sweep removes them."""

    phi_resource_type = "claim"

    @staticmethod
    def resource_id_of(obj):
        return obj.claim_id

    list_display = (
        "claim_id",
        "patient_id",
        "encounter_id",
        "payer_code",
        "status",
        "total_amount",
        "retention_class",
        "archived_at",
        "purge_after",
    )
    list_filter = (*ShardedModelAdmin.list_filter, "retention_class", "status")
    search_fields = ("=claim_id", "=patient_id", "=encounter_id", "payer_code")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LegalHold)
class LegalHoldAdmin(ShardedModelAdmin):
    """Holds are placed and released through the audited services only; here they can be read."""

    list_display = ("claim_id", "patient_id", "reason", "placed_by_user_id", "placed_at")
    search_fields = ("=claim_id", "=patient_id", "reason")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
