from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core: sharding and personas"

    def ready(self):
        from django.urls import register_converter
        from django_structlog import signals as structlog_signals

        from .authentication import bind_request_identity
        from .converters import IdConverter
        from .folders import embedded_folders_ensure
        from .identity_cache import connect_invalidation

        embedded_folders_ensure()

        structlog_signals.bind_extra_request_metadata.connect(
            bind_request_identity, dispatch_uid="pimlab-core-request-identity"
        )
        connect_invalidation()

        from django.contrib.auth.signals import user_logged_in

        from .session_idle import session_touch_on_login

        user_logged_in.connect(session_touch_on_login, dispatch_uid="pimlab-core-session-touch")
        # Before any URLconf is imported: API routes write ids as <id:...>.
        register_converter(IdConverter, "id")
