from django.contrib import admin

from .models import ChaosSwitch, Experiment, ExperimentRevision, ExperimentRun


class RevisionInline(admin.TabularInline):
    model = ExperimentRevision
    fields = ("number", "status", "author", "approved_by", "content_hash", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ("key", "title", "source", "updated_at")
    list_filter = ("source",)
    search_fields = ("key", "title")
    inlines = [RevisionInline]


@admin.register(ExperimentRevision)
class ExperimentRevisionAdmin(admin.ModelAdmin):
    list_display = ("experiment", "number", "status", "author", "approved_by", "dry_run_at", "created_at")
    list_filter = ("status",)
    search_fields = ("experiment__key", "author", "approved_by", "content_hash")
    readonly_fields = ("content_hash", "manifest", "dry_run_report", "dry_run_at", "approved_at", "created_at")
    raw_id_fields = ("experiment",)


@admin.register(ExperimentRun)
class ExperimentRunAdmin(admin.ModelAdmin):
    list_display = ("id", "revision", "status", "outcome", "deviated", "launched_by", "started_at", "ended_at")
    list_filter = ("status", "outcome", "deviated")
    search_fields = ("revision__experiment__key", "launched_by", "request_id", "close_adr_ref")
    readonly_fields = ("journal", "summary", "started_at", "ended_at", "closed_at")
    raw_id_fields = ("revision",)


@admin.register(ChaosSwitch)
class ChaosSwitchAdmin(admin.ModelAdmin):
    list_display = ("engaged", "reason", "changed_by", "changed_at")
