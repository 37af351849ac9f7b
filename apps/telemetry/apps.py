from django.apps import AppConfig
from django.conf import settings


class TelemetryConfig(AppConfig):
    name = "apps.telemetry"
    label = "telemetry"
    verbose_name = "Telemetry"

    def ready(self):
        from . import task_context
        from .logging import configure_structlog
        from .profiling import configure_profiling_from_env
        from .tracing import configure_tracing, trace_store_exporter_from_settings

        configure_structlog()
        configure_tracing(
            service_name=settings.PIMLAB_SERVICE_NAME,
            span_store_size=settings.PIMLAB_SPAN_STORE_SIZE,
            trace_store=trace_store_exporter_from_settings(),
            sample_ratio=settings.PIMLAB_TRACES_SAMPLE_RATIO,
        )
        task_context.connect()
        configure_profiling_from_env(service_name=settings.PIMLAB_SERVICE_NAME)

        from django.apps import apps

        from .metric_defaults import zero_series_initialise

        zero_series_initialise(config.name for config in apps.get_app_configs() if config.name.startswith("apps."))
