from django.contrib import admin

from .models import ProbeResult, ProbeTarget


@admin.register(ProbeResult)
class ProbeResultAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "scenario",
        "shard_alias",
        "outcome",
        "duration_seconds",
        "failed_step",
        "skip_reason",
        "trace_id",
    )
    list_filter = ("outcome", "scenario", "shard_alias", "failed_step", ("started_at", admin.DateFieldListFilter))
    search_fields = ("trace_id", "error", "skip_reason", "failed_step")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in ProbeResult._meta.fields]

    def has_add_permission(self, request):
        return False  # results come from probe runs only


@admin.register(ProbeTarget)
class ProbeTargetAdmin(admin.ModelAdmin):
    list_display = ("shard_alias", "patient_id", "patient_user_id", "created_at")
    search_fields = ("shard_alias", "patient_id")
    readonly_fields = ("shard_alias", "patient_id", "patient_user_id", "created_at")

    def has_add_permission(self, request):
        return False  # created by `manage.py probe_setup`
