"""One way for portal pages to show a refused request: the error next to its field (``field``) or
in the error summary at the top of the page, with the same title, detail and remediation the API
sends as problem+json.

Works with ``apps.core.errors.DomainError`` (``title``/``detail``/``remediation``/``field`` and the
``errors``/``missing``/``rule`` members some refusals carry in ``extra`` or as attributes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django import forms

from apps.core.errors import DomainError

# Everything a service raises to say "no" (as opposed to a crash): every refusal is a DomainError.
REFUSALS: tuple[type[BaseException], ...] = (DomainError,)

GENERIC_TITLE = "The request was refused"
GENERIC_REMEDIATION = "Check the answers on this page and try again."


@dataclass(frozen=True)
class PortalError:
    """What a page needs to explain a refusal."""

    title: str
    detail: str
    remediation: str
    status: int
    code: str = ""
    field: str | None = None
    field_errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        """The sentence shown to the person: what happened, then what to do."""
        return f"{self.detail} {self.remediation}".strip() if self.remediation else self.detail


def _text(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def portal_error(exc: BaseException) -> PortalError:
    """Read a raised error the way the API's exception handler does, for a page."""
    extra = getattr(exc, "extra", None) or {}
    field_errors = getattr(exc, "errors", None) or extra.get("errors") or {}
    if not isinstance(field_errors, dict):
        field_errors = {}
    rule = getattr(exc, "rule", None)
    # A guardrail names its rule: the page says which one refused (the API's title is generic).
    title = (f"Refused by the {rule.replace('_', ' ')} rule" if rule else None) or getattr(exc, "title", None)
    title = title or GENERIC_TITLE
    detail = _text(getattr(exc, "detail", None)) or _text(exc) or title
    remediation = _text(getattr(exc, "remediation", None)) or GENERIC_REMEDIATION
    # Without a status of its own, a refusal naming fields is invalid input (422), as in the API.
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None) or (422 if field_errors else 400)
    code = getattr(exc, "code", None) or (exc.get_codes() if hasattr(exc, "get_codes") else "") or (rule or "")
    return PortalError(
        title=str(title),
        detail=detail,
        remediation=remediation,
        status=int(status),
        code=str(code),
        # Older refusals name the missing input in ``missing`` (e.g. ["amendment_reason"]).
        field=getattr(exc, "field", None) or next(iter(extra.get("missing") or []), None),
        field_errors={
            str(k): [_text(v)] if not isinstance(v, list) else [str(m) for m in v] for k, v in field_errors.items()
        },
    )


def form_error_add(
    form: forms.BaseForm, exc: BaseException, *, field_names: dict[str, str] | None = None
) -> PortalError:
    """Attach a raised error to ``form``: next to the field it names, else as a non-field error
    (shown in the error summary). ``field_names`` maps service argument names to form field names."""
    error = portal_error(exc)
    renamed = field_names or {}
    placed = False
    for name, messages in error.field_errors.items():
        target = renamed.get(name, name)
        if target in form.fields:
            for message in messages:
                form.add_error(target, message)
            placed = True
    target = renamed.get(error.field, error.field) if error.field else None
    if target in form.fields and not placed:
        form.add_error(target, error.message)
        placed = True
    if not placed:
        form.add_error(None, forms.ValidationError(f"{error.title}: {error.message}", code=error.code or "refused"))
    return error


def status_for(form: forms.BaseForm, error: PortalError | None = None) -> int:
    """The HTTP status of a page re-rendered with errors: the error's, else 422 (invalid input)."""
    if error is not None and error.status >= 400:
        return error.status
    return 422 if form.errors else 200
