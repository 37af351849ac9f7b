from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from apps.audits.admin_access import AuditedPhiAdminMixin
from apps.core.admin_sharding import ShardedModelAdmin, ShardListFilter

from .models import CareTeamMember, Patient


class CareTeamMemberInline(admin.TabularInline):
    model = CareTeamMember
    extra = 0
    fields = ("clinician_user_id", "assigned_at")
    readonly_fields = ("assigned_at",)


@admin.register(Patient)
class PatientAdmin(AuditedPhiAdminMixin, ShardedModelAdmin, SimpleHistoryAdmin):
    @staticmethod
    def patient_of(obj) -> int:
        return obj.id

    list_display = ("mrn", "family_name", "given_name", "birth_date", "sex", "id", "created_at")
    list_filter = (ShardListFilter, "sex")
    search_fields = ("mrn", "family_name", "given_name", "=id")
    readonly_fields = ("id", "created_at", "updated_at")
    ordering = ("mrn",)
    inlines = (CareTeamMemberInline,)
    list_per_page = 50
    history_list_display = ("family_name", "given_name", "phone", "email")


@admin.register(CareTeamMember)
class CareTeamMemberAdmin(ShardedModelAdmin):
    list_display = ("id", "patient", "clinician_user_id", "assigned_at")
    list_filter = (ShardListFilter,)
    search_fields = ("=patient__id", "patient__mrn", "=clinician_user_id")
    list_select_related = ("patient",)
    raw_id_fields = ("patient",)
    readonly_fields = ("id", "assigned_at")
    ordering = ("-assigned_at",)
