from django.contrib import admin, messages

from .models import AlertEvent, ServiceLevelObjective, SliSample, TimelineAnnotation


@admin.register(ServiceLevelObjective)
class ServiceLevelObjectiveAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "service",
        "objective",
        "window_days",
        "budgeting_method",
        "alert_state",
        "budget_remaining",
        "enabled",
        "last_evaluated_at",
    )
    list_filter = ("alert_state", "service", "budgeting_method", "enabled")
    search_fields = ("name", "display_name", "service", "description")
    readonly_fields = [f.name for f in ServiceLevelObjective._meta.fields]
    actions = ["reload_specs"]

    @admin.display(description="budget remaining")
    def budget_remaining(self, obj):
        ratio = (obj.last_status or {}).get("error_budget_remaining_ratio")
        return "—" if ratio is None else f"{ratio:.1%}"

    def has_add_permission(self, request):
        # Specs live under version control (slo/specs/); the catalog is a copy.
        return False

    @admin.action(description="Reload every spec from the specs folder")
    def reload_specs(self, request, queryset):
        from .services import slo_specs_sync

        report = slo_specs_sync()
        self.message_user(
            request,
            f"created {len(report.created)}, updated {len(report.updated)}, disabled {len(report.disabled)}",
        )
        for error in report.errors:
            self.message_user(request, error, level=messages.ERROR)


@admin.register(SliSample)
class SliSampleAdmin(admin.ModelAdmin):
    list_display = ("slo", "taken_at", "total_events", "bad_events")
    list_filter = ("slo",)
    date_hierarchy = "taken_at"
    search_fields = ("slo__name",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    list_display = ("name", "severity", "status", "occurred_at", "labels", "delivered_at")
    list_filter = ("severity", "status", "name")
    search_fields = ("name", "labels", "delivery_error")
    date_hierarchy = "occurred_at"
    readonly_fields = ("delivered_at", "delivery_error")
    actions = ["send_again"]

    @admin.action(description="Send again to the alert webhook")
    def send_again(self, request, queryset):
        from .services import alert_event_delivery_enqueue

        ids = list(queryset.order_by("occurred_at").values_list("pk", flat=True))
        queryset.update(delivered_at=None)
        # A worker delivers them; the admin request never waits on the receiver.
        queued = sum(alert_event_delivery_enqueue(alert_event_id=pk) for pk in ids)
        level = messages.SUCCESS if queued == len(ids) else messages.WARNING
        self.message_user(request, f"{queued} of {len(ids)} alert events queued for delivery.", level=level)


@admin.register(TimelineAnnotation)
class TimelineAnnotationAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "ended_at", "source", "text", "reference")
    list_filter = ("source",)
    search_fields = ("text", "reference", "source")
    date_hierarchy = "occurred_at"
