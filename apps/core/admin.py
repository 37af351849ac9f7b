from django.contrib import admin

from .models import Persona, ShardMapEntry


def _invalidate_resolver() -> None:
    # This process sees the new map at once; other processes within the resolver's TTL.
    from .resolver import resolver

    resolver.invalidate()


@admin.register(ShardMapEntry)
class ShardMapEntryAdmin(admin.ModelAdmin):
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
