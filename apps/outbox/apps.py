from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "apps.outbox"
    label = "outbox"
    verbose_name = "Outbox and event bus"

    def ready(self):
        from . import retention  # noqa: F401  (registers the retention check outbox.E001)
        from .metrics import register_backlog_collector

        register_backlog_collector()
