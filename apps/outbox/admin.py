from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from apps.core.actors import Actor
from apps.core.admin_sharding import ShardedModelAdmin, ShardListFilter

from .models import EventConsumerGroup, EventPendingEntry, EventStreamEntry, OutboxEvent, OutboxStatus
from .services import outbox_dead_letters_discard, outbox_dead_letters_retry


@admin.register(OutboxEvent)
class OutboxEventAdmin(ShardedModelAdmin):
    """The outbox and its dead-letter queue (filter status = Dead letter), one shard at a time."""

    list_display = (
        "id",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "status",
        "held_back",
        "attempts",
        "next_attempt_at",
        "created_at",
        "published_at",
        "short_error",
    )
    list_filter = (ShardListFilter, "status", "event_type", "aggregate_type")
    search_fields = ("=id", "=aggregate_id", "event_type")
    ordering = ("-id",)
    readonly_fields = (
        "id",
        "aggregate_type",
        "aggregate_id",
        "event_type",
        "payload",
        "headers",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "published_at",
    )
    actions = ["retry_selected", "discard_selected"]
    list_per_page = 100

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Events are never dropped silently: an operator retries a dead letter, not deletes it.
        return False

    def get_queryset(self, request):
        # One query for the page: each row carries the number of later pending events of its patient.
        queryset = super().get_queryset(request)
        later_pending = (
            OutboxEvent.objects.filter(
                aggregate_id=OuterRef("aggregate_id"), id__gt=OuterRef("id"), status=OutboxStatus.PENDING
            )
            .order_by()
            .values("aggregate_id")
            .annotate(count=Count("id"))
            .values("count")
        )
        return queryset.annotate(
            later_pending_count=Coalesce(Subquery(later_pending, output_field=IntegerField()), Value(0))
        )

    @admin.display(description="holds back", ordering="later_pending_count")
    def held_back(self, obj: OutboxEvent) -> str:
        """For a dead letter: how many later events of the same patient wait for it (retry or discard)."""
        if obj.status != OutboxStatus.DEAD:
            return "–"
        count = getattr(obj, "later_pending_count", 0)
        return f"{count} later event(s)"

    @admin.display(description="last error")
    def short_error(self, obj: OutboxEvent) -> str:
        return (obj.last_error or "")[:80]

    @admin.action(description="Retry selected (back to pending, attempts reset)")
    def retry_selected(self, request, queryset):
        alias = queryset.db
        event_ids = list(queryset.values_list("id", flat=True))
        requeued = outbox_dead_letters_retry(using=alias, event_ids=event_ids, actor=Actor.from_user(request.user))
        skipped = len(event_ids) - requeued
        self.message_user(
            request,
            f"{requeued} event(s) on {alias} sent back to the relay"
            + (f"; {skipped} already published, left alone." if skipped else "."),
            messages.SUCCESS if requeued else messages.WARNING,
        )

    @admin.action(description="Discard selected dead letters (release the patient's later events)")
    def discard_selected(self, request, queryset):
        alias = queryset.db
        event_ids = list(queryset.values_list("id", flat=True))
        discarded = outbox_dead_letters_discard(using=alias, event_ids=event_ids, actor=Actor.from_user(request.user))
        skipped = len(event_ids) - discarded
        self.message_user(
            request,
            f"{discarded} dead letter(s) on {alias} discarded; the later events of their patients go to the relay"
            + (f"; {skipped} not dead letters, left alone." if skipped else "."),
            messages.SUCCESS if discarded else messages.WARNING,
        )


@admin.register(EventStreamEntry)
class EventStreamEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "stream", "event_id", "appended_at")
    list_filter = ("stream",)
    search_fields = ("=event_id", "stream")
    readonly_fields = ("stream", "event_id", "event", "appended_at")


@admin.register(EventConsumerGroup)
class EventConsumerGroupAdmin(admin.ModelAdmin):
    list_display = ("group", "stream", "last_delivered_id", "created_at")
    list_filter = ("stream",)
    search_fields = ("group", "stream")


@admin.register(EventPendingEntry)
class EventPendingEntryAdmin(admin.ModelAdmin):
    list_display = ("entry_id", "group", "consumer", "delivery_count", "delivered_at")
    list_filter = ("group__stream", "group__group")
    search_fields = ("consumer",)
    list_select_related = ("group",)
