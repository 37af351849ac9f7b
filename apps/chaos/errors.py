"""Refusals of the chaos controller (problem+json in the API, form messages in the console)."""

from __future__ import annotations

from apps.core.errors import BadRequest, Conflict, DomainError, NotFound


class ChaosRuleViolation(Conflict):
    """A governance rule refused the operation; ``code`` names the rule (``author_cannot_approve``,
    ``not_approved``, ``kill_switch`` …), ``detail`` says what to do instead."""

    title = "Chaos governance rule"

    def __init__(self, message: str, *, code: str, **kwargs):
        super().__init__(message, remediation=kwargs.pop("remediation", message), code=code, **kwargs)


# The API's name for the same refusal.
ChaosRuleRefused = ChaosRuleViolation


class ApprovalRefused(ChaosRuleViolation):
    """Four-eyes: the approver is the author, or has already approved this revision."""


class ManifestUnparseable(DomainError):
    """The manifest text is not YAML (or not a mapping): nothing is stored."""

    code = "manifest_unparseable"
    status = 400
    title = "Manifest is not valid YAML"
    remediation = "Fix the YAML at the line and column given in `detail` and submit it again."

    def __init__(self, detail: str | None = None, *, line: int | None = None, column: int | None = None):
        super().__init__(detail, field="manifest", extra={"line": line, "column": column})
        self.line, self.column = line, column


class RevisionNotFound(NotFound):
    remediation = "List experiments at /api/chaos/experiments to find revision ids."


class RunNotFound(NotFound):
    remediation = "The run id is in the answer to the launch request."


class BadTimeRange(BadRequest):
    code = "bad_time_range"
    title = "Bad time range"
    remediation = "Give from/to as epoch milliseconds (as Grafana does) or ISO 8601."
