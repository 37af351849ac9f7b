from django.contrib import admin
from knox.models import AuthToken
from simple_history.admin import SimpleHistoryAdmin

from .models import Persona, ShardMapEntry


def _invalidate_resolver() -> None:
    # This process sees the new map at once; other processes within the resolver's TTL.
    from .resolver import resolver

    resolver.invalidate()


@admin.register(ShardMapEntry)
class ShardMapEntryAdmin(SimpleHistoryAdmin):
    list_display = ("bucket_start", "bucket_end", "shard_alias", "note", "updated_at")
    list_filter = ("shard_alias",)
    search_fields = ("shard_alias", "note")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _invalidate_resolver()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _invalidate_resolver()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        _invalidate_resolver()


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ("display_name", "role", "user", "patient_id", "created_at")
    list_filter = ("role",)
    search_fields = ("display_name", "user__username")
    raw_id_fields = ("user",)
    list_select_related = ("user",)


# knox's own admin lists token digests and prints a new token in a message: replace it with one that
# shows who holds a token and until when, and can only revoke (delete) it.
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "created", "expiry")
    search_fields = ("user__username",)
    fields = ("user", "created", "expiry")
    readonly_fields = ("user", "created", "expiry")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False  # tokens are issued by `manage.py persona_tokens`, shown once

    def has_change_permission(self, request, obj=None):
        return False
