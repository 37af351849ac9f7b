from django.contrib import admin

from .models import ClaimFact, EncounterFact, FinancialDailyAggregate, ProcessedEvent, ProjectionCheckpoint


class ReadModelAdmin(admin.ModelAdmin):
    """Read models are written only by the projection (or projections_rebuild)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FinancialDailyAggregate)
class FinancialDailyAggregateAdmin(ReadModelAdmin):
    list_display = ("day", "payer_code", "status", "claim_count", "total_amount", "paid_amount", "lag_count")
    list_filter = ("status", "payer_code")
    date_hierarchy = "day"


@admin.register(ClaimFact)
class ClaimFactAdmin(ReadModelAdmin):
    list_display = (
        "claim_id",
        "encounter_id",
        "payer_code",
        "status",
        "total_amount",
        "submitted_at",
        "submission_lag_seconds",
    )
    list_filter = ("status", "payer_code")
    search_fields = ("=claim_id", "=encounter_id")


@admin.register(EncounterFact)
class EncounterFactAdmin(ReadModelAdmin):
    list_display = ("encounter_id", "encounter_type", "requested_start", "booked_at")
    list_filter = ("encounter_type",)
    search_fields = ("=encounter_id", "=patient_id")


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadModelAdmin):
    list_display = ("event_id", "event_type", "occurred_at", "applied_at")
    list_filter = ("event_type",)
    search_fields = ("=event_id",)


@admin.register(ProjectionCheckpoint)
class ProjectionCheckpointAdmin(ReadModelAdmin):
    list_display = (
        "name",
        "events_applied",
        "last_event_occurred_at",
        "last_applied_at",
        "last_rebuilt_at",
        "backlog_alert_firing",
    )
