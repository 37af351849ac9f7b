"""Refusals of the chaos controller's API."""

from __future__ import annotations

from apps.core.errors import BadRequest, Conflict, NotFound


class ChaosRuleRefused(Conflict):
    """A governance rule refused the operation; ``code`` names the rule, ``detail`` what to do instead."""

    title = "Chaos governance rule"

    def __init__(self, message: str, *, code: str):
        super().__init__(message, remediation=message, code=code)


class RevisionNotFound(NotFound):
    remediation = "List experiments at /api/chaos/experiments to find revision ids."


class RunNotFound(NotFound):
    remediation = "The run id is in the answer to the launch request."


class BadTimeRange(BadRequest):
    code = "bad_time_range"
    title = "Bad time range"
    remediation = "Give from/to as epoch milliseconds (as Grafana does) or ISO 8601."
