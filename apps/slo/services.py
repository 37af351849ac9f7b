from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import requests
import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .engine import EventSource, SloEvaluation, slo_evaluation_compute
from .models import AlertEvent, AlertSeverity, AlertStatus, ServiceLevelObjective, SliSample, TimelineAnnotation
from .prometheus_reader import PrometheusQueryError
from .sampler import next_cumulative, snapshots_read
from .sources import default_event_source, definition_of
from .specs import SloDefinition, SpecError, load_spec_file

logger = structlog.get_logger(__name__)

SLO_ALERT_NAME = "SLOErrorBudgetBurn"


def timeline_annotation_record(
    *,
    source: str,
    text: str,
    tags: list[str] | None = None,
    reference: str = "",
    occurred_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> TimelineAnnotation:
    return TimelineAnnotation.objects.create(
        occurred_at=occurred_at or timezone.now(),
        ended_at=ended_at,
        source=source,
        text=text,
        tags=tags or [],
        reference=reference,
    )


def alert_event_record(
    *,
    name: str,
    severity: str,
    status: str,
    labels: dict | None = None,
    annotations: dict | None = None,
    occurred_at: datetime | None = None,
    deliver: bool = True,
) -> AlertEvent:
    """Record an alert state change. It is POSTed to ``PIMLAB_ALERT_WEBHOOK_URL`` once committed
    (and retried by ``alert_events_deliver_pending`` if the receiver was down); ``deliver=False``
    for alerts that arrived through Alertmanager, which has notified its own receivers already."""
    event = AlertEvent.objects.create(
        name=name,
        severity=severity,
        status=status,
        labels=labels or {},
        annotations=annotations or {},
        occurred_at=occurred_at or timezone.now(),
        delivered_at=None if deliver else timezone.now(),
    )
    if deliver and settings.PIMLAB_ALERT_WEBHOOK_URL:
        transaction.on_commit(lambda: alert_event_deliver(alert_event_id=event.pk))
    return event


# --- specs -----------------------------------------------------------------------------------


@dataclass
class SpecSyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def slo_specs_sync(*, directory: Path | None = None) -> SpecSyncReport:
    """Load every spec of the version-controlled folder into the catalog.

    A spec that does not validate is reported and leaves its SLO as it was; an SLO whose spec is
    gone is disabled (its samples and alert history stay for the record).
    """
    directory = Path(directory or settings.PIMLAB_SLO_SPECS_DIR)
    report = SpecSyncReport()
    found: dict[str, tuple[SloDefinition, str]] = {}
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]) if directory.is_dir() else []
    if not directory.is_dir():
        report.errors.append(f"{directory}: no such folder of SLO specs.")
    for path in paths:
        try:
            definitions = load_spec_file(path)
        except SpecError as exc:
            report.errors.append(str(exc))
            continue
        for definition in definitions:
            if definition.name in found:
                first_file = found[definition.name][1]
                report.errors.append(f"{path.name}: SLO {definition.name!r} is already defined in {first_file}.")
                continue
            found[definition.name] = (definition, path.name)
    with transaction.atomic():
        existing = {slo.name: slo for slo in ServiceLevelObjective.objects.select_for_update()}
        for name, (definition, file_name) in found.items():
            fields = {
                "display_name": definition.display_name,
                "service": definition.service,
                "description": definition.description,
                "objective": definition.objective,
                "window_days": definition.window_days,
                "budgeting_method": definition.budgeting_method,
                "min_events_per_window": definition.min_events_per_window,
                "runbook": definition.runbook,
                "document": definition.document,
                "content_hash": definition.content_hash,
                "source_file": file_name,
                "enabled": True,
            }
            slo = existing.get(name)
            if slo is None:
                ServiceLevelObjective.objects.create(name=name, **fields)
                report.created.append(name)
            elif slo.content_hash != definition.content_hash or not slo.enabled or slo.source_file != file_name:
                for key, value in fields.items():
                    setattr(slo, key, value)
                slo.save()
                report.updated.append(name)
            else:
                report.unchanged.append(name)
        for name, slo in existing.items():
            if name not in found and slo.enabled and not any(name in e for e in report.errors):
                slo.enabled = False
                slo.save(update_fields=["enabled", "loaded_at"])
                report.disabled.append(name)
    for error in report.errors:
        logger.warning("slo_spec_invalid", error=error)
    if report.created or report.updated or report.disabled:
        logger.info("slo_specs_synced", created=report.created, updated=report.updated, disabled=report.disabled)
    return report


# --- built-in sampler --------------------------------------------------------------------------


def sli_samples_record(*, at: datetime | None = None) -> int:
    """Snapshot the counters every enabled SLO reads and store one cumulative sample per SLO."""
    at = at or timezone.now()
    slos = list(ServiceLevelObjective.objects.filter(enabled=True))
    if not slos:
        return 0
    definitions = {slo.pk: definition_of(slo) for slo in slos}
    snapshots = snapshots_read(list(definitions.values()))
    rows = []
    for slo in slos:
        previous = SliSample.objects.filter(slo=slo, taken_at__lte=at).order_by("-taken_at").first()
        reading = next_cumulative(definitions[slo.pk], snapshots, previous, at=at)
        if reading is None:
            continue
        total, bad, raw = reading
        rows.append(SliSample(slo=slo, taken_at=at, total_events=total, bad_events=bad, raw=raw))
    SliSample.objects.bulk_create(rows)
    return len(rows)


def sli_samples_prune(*, now: datetime | None = None) -> int:
    """Drop samples no window can reach any more (older than the SLO window plus a day)."""
    now = now or timezone.now()
    deleted = 0
    for slo in ServiceLevelObjective.objects.all():
        cutoff = now - timedelta(days=slo.window_days + 1)
        deleted += SliSample.objects.filter(slo=slo, taken_at__lt=cutoff).delete()[0]
    return deleted


# --- evaluation and alerts ---------------------------------------------------------------------


def slo_evaluate_all(*, at: datetime | None = None, source: EventSource | None = None) -> list[dict]:
    """One evaluation round: sync specs, sample (built-in source), evaluate every enabled SLO and
    record alert transitions. Returns the status of each SLO."""
    at = at or timezone.now()
    slo_specs_sync()
    if source is None:
        source = default_event_source()
        if source.kind == "sampler":
            sli_samples_record(at=at)
    statuses = []
    for slo in ServiceLevelObjective.objects.filter(enabled=True):
        try:
            evaluation = slo_evaluation_compute(definition_of(slo), source=source, at=at)
        except PrometheusQueryError as exc:
            # No data is not good data: keep the alert state as it is until Prometheus answers.
            logger.warning("slo_evaluation_failed", slo=slo.name, error=str(exc)[:300])
            continue
        slo_alert_state_apply(slo_id=slo.pk, evaluation=evaluation)
        statuses.append(evaluation.as_status())
    return statuses


def slo_alert_state_apply(*, slo_id: int, evaluation: SloEvaluation) -> list[AlertEvent]:
    """Move the SLO's page and ticket alerts to what the evaluation says, recording each change."""
    events = []
    with transaction.atomic():
        slo = ServiceLevelObjective.objects.select_for_update().get(pk=slo_id)
        for severity, firing, since_field in (
            (AlertSeverity.PAGE, evaluation.page_firing, "page_firing_since"),
            (AlertSeverity.TICKET, evaluation.ticket_firing, "ticket_firing_since"),
        ):
            was_firing = getattr(slo, since_field) is not None
            if firing == was_firing:
                continue
            events.append(
                alert_event_record(
                    name=SLO_ALERT_NAME,
                    severity=severity,
                    status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
                    labels={"alertname": SLO_ALERT_NAME, "slo": slo.name, "service": slo.service, "severity": severity},
                    annotations=_alert_annotations(evaluation, severity),
                    occurred_at=evaluation.at,
                )
            )
            setattr(slo, since_field, evaluation.at if firing else None)
        slo.alert_state = evaluation.alert_state
        slo.last_evaluated_at = evaluation.at
        slo.last_status = evaluation.as_status()
        slo.save(
            update_fields=[
                "alert_state",
                "page_firing_since",
                "ticket_firing_since",
                "last_evaluated_at",
                "last_status",
            ]
        )
    for event in events:
        logger.warning(
            "slo_alert_transition",
            slo=slo.name,
            severity=event.severity,
            status=event.status,
            burn_rates=evaluation.as_status()["burn_rates"],
        )
    return events


def _alert_annotations(evaluation: SloEvaluation, severity: str) -> dict[str, str]:
    definition = evaluation.definition
    pairs = [p for p in evaluation.pairs if p.severity == severity]
    firing = [p for p in pairs if p.firing]
    described = firing or pairs
    windows = "; ".join(
        f"{p.long_window}/{p.short_window} burn {p.long_burn_rate:.2f}x/{p.short_burn_rate:.2f}x "
        f"(threshold {p.factor:g}x)"
        for p in described
    )
    state = "is burning" if firing else "no longer burns"
    return {
        "summary": f"{definition.display_name} {state} its error budget too fast ({severity}).",
        "description": (
            f"SLO {definition.name} ({definition.objective:.4%} over {definition.window_days}d): {windows}. "
            f"Budget remaining {evaluation.error_budget_remaining_ratio:.2%}."
        ),
        "runbook_url": definition.runbook,
        "objective": f"{definition.objective}",
        "burn_rates": json.dumps({k: round(v, 6) for k, v in evaluation.burn_rates.items()}, sort_keys=True),
        "alert_windows": json.dumps([p.as_dict() for p in pairs]),
        "error_budget_remaining_ratio": f"{evaluation.error_budget_remaining_ratio:.6f}",
    }


def alert_event_deliver(*, alert_event_id: int) -> bool:
    """POST one alert event to the webhook in Alertmanager's format; remember success or the error."""
    from .alertmanager import webhook_payload

    url = settings.PIMLAB_ALERT_WEBHOOK_URL
    event = AlertEvent.objects.get(pk=alert_event_id)
    if not url or event.delivered_at is not None:
        return False
    try:
        response = requests.post(url, json=webhook_payload(event), timeout=5)
        response.raise_for_status()
    except requests.RequestException as exc:
        AlertEvent.objects.filter(pk=event.pk).update(delivery_error=str(exc)[:2000])
        logger.warning("alert_webhook_failed", alert_event_id=event.pk, alertname=event.name, error=str(exc)[:300])
        return False
    AlertEvent.objects.filter(pk=event.pk).update(delivered_at=timezone.now(), delivery_error="")
    logger.info("alert_webhook_delivered", alert_event_id=event.pk, alertname=event.name, status=event.status)
    return True


def alert_events_deliver_pending(*, max_age: timedelta = timedelta(hours=6)) -> int:
    """Retry delivery of recent alert events the receiver has not taken yet, oldest first."""
    if not settings.PIMLAB_ALERT_WEBHOOK_URL:
        return 0
    pending = AlertEvent.objects.filter(delivered_at__isnull=True, occurred_at__gte=timezone.now() - max_age)
    ids = pending.order_by("occurred_at").values_list("pk", flat=True)
    return sum(alert_event_deliver(alert_event_id=pk) for pk in ids)


# --- alerts from Alertmanager ------------------------------------------------------------------


def _alertmanager_time(value: str | None) -> datetime | None:
    from django.utils.dateparse import parse_datetime

    if not value or value.startswith("0001-01-01"):
        return None
    return parse_datetime(value)


def alertmanager_notification_record(*, notification: dict) -> list[AlertEvent]:
    """Record the state changes in one Alertmanager webhook notification (payload version 4).

    Alertmanager repeats a firing alert every ``repeat_interval``: an alert whose latest recorded
    state is already the notified one is not recorded again, so the lab's alert log holds
    transitions (firing, resolved) like the alerts the lab raises itself."""
    recorded = []
    with transaction.atomic():
        for alert in notification.get("alerts", []):
            labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
            status = AlertStatus.RESOLVED if alert.get("status") == AlertStatus.RESOLVED else AlertStatus.FIRING
            name = labels.get("alertname", "unnamed")
            latest = AlertEvent.objects.filter(name=name, labels=labels).order_by("-occurred_at", "-pk").first()
            if latest is not None and latest.status == status:
                continue
            severity = labels.get("severity", "")
            annotations = {str(k): str(v) for k, v in (alert.get("annotations") or {}).items()}
            annotations.update(
                source="alertmanager",
                receiver=str(notification.get("receiver", "")),
                fingerprint=str(alert.get("fingerprint", "")),
                generator_url=str(alert.get("generatorURL", "")),
            )
            moment = _alertmanager_time(alert.get("endsAt" if status == AlertStatus.RESOLVED else "startsAt"))
            recorded.append(
                alert_event_record(
                    name=name,
                    severity=severity if severity in AlertSeverity.values else AlertSeverity.TICKET,
                    status=status,
                    labels=labels,
                    annotations=annotations,
                    occurred_at=moment or timezone.now(),
                    deliver=False,
                )
            )
    for event in recorded:
        logger.info(
            "alertmanager_alert_recorded",
            alert_event_id=event.pk,
            alertname=event.name,
            status=event.status,
            runbook_url=event.annotations.get("runbook_url", ""),
        )
    return recorded
