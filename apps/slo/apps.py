from django.apps import AppConfig


class SloConfig(AppConfig):
    name = "apps.slo"
    label = "slo"
    verbose_name = "SLOs"

    def ready(self):
        from .metrics import register_slo_collector

        register_slo_collector()
