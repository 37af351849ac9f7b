from celery import shared_task

from . import services


@shared_task(name="slo.evaluate_all", ignore_result=True)
def slo_evaluate_all_task() -> None:
    services.slo_evaluate_all()


@shared_task(name="slo.alert_events_deliver_pending", ignore_result=True)
def alert_events_deliver_pending_task() -> None:
    services.alert_events_deliver_pending()


@shared_task(name="slo.alert_event_deliver", ignore_result=True)
def alert_event_deliver_task(alert_event_id: int) -> None:
    services.alert_event_deliver(alert_event_id=alert_event_id)


@shared_task(name="slo.samples_prune", ignore_result=True)
def sli_samples_prune_task() -> None:
    services.sli_samples_prune()
