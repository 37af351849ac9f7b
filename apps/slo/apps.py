from django.apps import AppConfig


class SloConfig(AppConfig):
    name = "apps.slo"
    label = "slo"
    verbose_name = "SLOs"

    def ready(self):
        from .metrics import register_slo_collector

        register_slo_collector()

        from apps.core.alerts import alert_raised

        alert_raised.connect(_record_raised_alert, dispatch_uid="slo-record-raised-alert")


def _record_raised_alert(sender, *, name, severity, status, labels, annotations, **kwargs):
    from .services import alert_event_record

    alert_event_record(name=name, severity=severity, status=status, labels=labels, annotations=annotations)
