from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from apps.audits.admin_access import AuditedPhiAdminMixin
from apps.core.actors import Actor
from apps.core.admin_sharding import ShardedModelAdmin, ShardListFilter

from .models import CareTeamMember, Patient
from .services import care_team_member_add, care_team_member_remove


class CareTeamMemberInline(admin.TabularInline):
    """Read-only here: membership changes go through the care-team admin (audited services)."""

    model = CareTeamMember
    extra = 0
    fields = ("clinician_user_id", "assigned_at")
    readonly_fields = ("clinician_user_id", "assigned_at")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


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
class CareTeamMemberAdmin(ShardedModelAdmin, SimpleHistoryAdmin):
    list_display = ("id", "patient", "clinician_user_id", "assigned_at")
    list_filter = (ShardListFilter,)
    search_fields = ("=patient__id", "patient__mrn", "=clinician_user_id")
    list_select_related = ("patient",)
    raw_id_fields = ("patient",)
    readonly_fields = ("id", "assigned_at")
    ordering = ("-assigned_at",)

    def get_readonly_fields(self, request, obj=None):
        # A membership belongs to one patient; to move a clinician, remove and add.
        return (*self.readonly_fields, "patient") if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Membership decides who reads notes: every change goes through the audited services.
        actor = Actor.from_user(request.user)
        if change and "clinician_user_id" in form.changed_data:
            care_team_member_remove(
                actor=actor, patient_id=obj.patient_id, clinician_user_id=form.initial["clinician_user_id"]
            )
        if not change or "clinician_user_id" in form.changed_data:
            added = care_team_member_add(
                actor=actor, patient_id=obj.patient_id, clinician_user_id=obj.clinician_user_id
            ).member
            obj.pk, obj._state.db, obj._state.adding = added.pk, added._state.db, False

    def delete_model(self, request, obj):
        care_team_member_remove(
            actor=Actor.from_user(request.user), patient_id=obj.patient_id, clinician_user_id=obj.clinician_user_id
        )

    def delete_queryset(self, request, queryset):
        for member in queryset:
            self.delete_model(request, member)
