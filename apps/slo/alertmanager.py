"""Alert notifications in Alertmanager's webhook payload format (version "4"), so any receiver that
takes Alertmanager webhooks (PagerDuty bridges, chat relays, on-call tools) takes ours unchanged."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings

from .models import AlertEvent, AlertStatus

ZERO_TIME = "0001-01-01T00:00:00Z"
GROUP_BY = ("alertname", "slo", "severity")


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alert_labels(event: AlertEvent) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in (event.labels or {}).items()}
    labels.setdefault("alertname", event.name)
    labels.setdefault("severity", event.severity)
    return labels


def alert_fingerprint(labels: dict[str, str]) -> str:
    canonical = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def alert_started_at(event: AlertEvent) -> datetime:
    """A resolved alert keeps the start of the firing it ends."""
    if event.status == AlertStatus.FIRING:
        return event.occurred_at
    firing = (
        AlertEvent.objects.filter(
            name=event.name,
            severity=event.severity,
            labels=event.labels,
            status=AlertStatus.FIRING,
            occurred_at__lte=event.occurred_at,
        )
        .order_by("-occurred_at")
        .first()
    )
    return firing.occurred_at if firing else event.occurred_at


def webhook_payload(event: AlertEvent) -> dict:
    labels = alert_labels(event)
    annotations = {str(k): str(v) for k, v in (event.annotations or {}).items()}
    group_labels = {k: labels[k] for k in GROUP_BY if k in labels}
    external_url = settings.PIMLAB_EXTERNAL_URL
    resolved = event.status == AlertStatus.RESOLVED
    alert = {
        "status": event.status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": _rfc3339(alert_started_at(event)),
        "endsAt": _rfc3339(event.occurred_at) if resolved else ZERO_TIME,
        "generatorURL": f"{external_url.rstrip('/')}/admin/slo/alertevent/{event.pk}/change/",
        "fingerprint": alert_fingerprint(labels),
    }
    group_key_labels = ", ".join(f'{k}="{v}"' for k, v in group_labels.items())
    return {
        "version": "4",
        "groupKey": f"{{}}:{{{group_key_labels}}}",
        "truncatedAlerts": 0,
        "status": event.status,
        "receiver": settings.PIMLAB_ALERT_WEBHOOK_RECEIVER,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [alert],
    }
