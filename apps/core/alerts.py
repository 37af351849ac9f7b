"""Raising an alert from any layer.

The lab's alert events are stored by ``apps.slo`` (which sits above the platform apps), so a platform
app such as ``audits`` cannot call it directly. It raises the alert here instead; ``apps.slo``
connects the receiver that records it (and delivers its webhook).
"""

from __future__ import annotations

from django.dispatch import Signal

alert_raised = Signal()


def alert_raise(*, name: str, severity: str, status: str = "firing", labels=None, annotations=None) -> None:
    """Record an alert state change through whichever receiver the lab has connected."""
    alert_raised.send(
        sender=None, name=name, severity=severity, status=status, labels=labels or {}, annotations=annotations or {}
    )
