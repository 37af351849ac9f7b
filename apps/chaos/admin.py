"""Operators inspect drills here; governance happens through the API/console services only.

Every governed field is read-only: status, author, approvals and the manifest text of a revision,
and what a run did. Approving, launching or retiring in the admin would skip four-eyes (ADR-012).
"""

from django.contrib import admin

from .models import ChaosSwitch, Experiment, ExperimentRevision, ExperimentRun


class RevisionInline(admin.TabularInline):
    model = ExperimentRevision
    fields = ("number", "status", "author", "approved_by", "content_hash", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin):
    list_display = ("key", "title", "source", "updated_at")
    list_filter = ("source",)
    search_fields = ("key", "title")
    inlines = [RevisionInline]


@admin.register(ExperimentRevision)
class ExperimentRevisionAdmin(ReadOnlyAdmin):
    list_display = ("experiment", "number", "status", "author", "approved_by", "dry_run_at", "created_at")
    list_filter = ("status",)
    search_fields = ("experiment__key", "author", "approved_by", "content_hash")


@admin.register(ExperimentRun)
class ExperimentRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "revision", "status", "outcome", "deviated", "launched_by", "started_at", "ended_at")
    list_filter = ("status", "outcome", "deviated")
    search_fields = ("revision__experiment__key", "launched_by", "request_id", "close_adr_ref")


@admin.register(ChaosSwitch)
class ChaosSwitchAdmin(admin.ModelAdmin):
    list_display = ("engaged", "reason", "changed_by", "changed_at")
    readonly_fields = ("changed_by", "changed_at")

    def save_model(self, request, obj, form, change):
        # Who changed it is the signed-in user, never a typed name; engaging aborts running drills.
        from .services import kill_switch_set

        kill_switch_set(engaged=obj.engaged, changed_by=request.user.get_username(), reason=obj.reason)
