"""Refusals of the chaos controller (rendered as problem+json by the API, as form messages by the console)."""

from __future__ import annotations

from apps.core.errors import DomainError


class ChaosRuleViolation(DomainError):
    """A governance rule refused the operation; ``detail`` says what to do instead.

    ``code`` names the rule (``author_cannot_approve``, ``not_approved``, ``kill_switch`` …)."""

    code = "chaos_rule"
    status = 409
    title = "Chaos governance rule"
    remediation = "See `detail`: it names the rule and what to do instead."

    def __init__(self, detail: str, *, code: str, **kwargs):
        super().__init__(detail, code=code, remediation=kwargs.pop("remediation", detail), **kwargs)


class ApprovalRefused(ChaosRuleViolation):
    """Four-eyes: the approver is the author, or has already approved this revision."""


class ManifestUnparseable(DomainError):
    """The manifest text is not YAML (or not a mapping): nothing is stored."""

    code = "manifest_unparseable"
    status = 400
    title = "Manifest is not valid YAML"
    remediation = "Fix the YAML at the line and column given in `detail` and submit it again."

    def __init__(self, detail: str, *, line: int | None = None, column: int | None = None):
        super().__init__(detail, field="manifest", extra={"line": line, "column": column})
        self.line, self.column = line, column
