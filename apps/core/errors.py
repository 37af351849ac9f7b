"""Domain errors: the one way a service says "no".

Services raise a ``DomainError`` subclass (declared per app in ``<app>/errors.py``); they never
build HTTP responses and never import ``rest_framework``. The API's exception handler renders any
``DomainError`` as problem+json (RFC 9457, with a ``remediation`` member), and portal views render
the same error as a form message next to ``field`` (or in the error summary when ``field`` is None).

A subclass sets the class attributes; an instance may override any of them::

    class ClaimDuplicate(DomainError):
        code = "claim_duplicate"
        status = 409
        title = "Duplicate claim"
        remediation = "Open the existing claim instead of submitting a new one."

    raise ClaimDuplicate(detail=f"Encounter {encounter_id} already has claim {claim_id}.",
                         extra={"claim_id": str(claim_id)})
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal with everything a caller needs to fix the request."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    type: ClassVar[str] = "about:blank"
    title: ClassVar[str] = "Request refused"
    remediation: ClassVar[str] = "See `detail`."
    # The detail when the raise site gives none (a refusal whose explanation never varies).
    default_detail: ClassVar[str | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        title: str | None = None,
        remediation: str | None = None,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        # Instance values shadow the class defaults, so one class can carry a specific text.
        if title is not None:
            self.title = title
        if remediation is not None:
            self.remediation = remediation
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.detail = detail if detail is not None else (self.default_detail or self.title)
        self.field = field
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    def as_problem(self) -> dict[str, Any]:
        """The problem+json body (without the HTTP envelope)."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "remediation": self.remediation,
            "code": self.code,
        }
        if self.field:
            body.setdefault("errors", {self.field: [self.detail]})
        body.update(self.extra)
        return body


class NotFound(DomainError):
    """Row access refused or row absent: one answer, so no existence oracle."""

    code = "not_found"
    status = 404
    title = "Not found"
    remediation = "Check the id; it may not exist or you may not have access to it."


class PermissionRefused(DomainError):
    code = "permission_refused"
    status = 403
    title = "Not allowed"
    remediation = "Use a persona whose role is allowed to perform this operation."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"
    remediation = "Reload the resource and apply your change to its current state."


class BadRequest(DomainError):
    """The request itself is malformed (a header or query parameter the server cannot read)."""

    code = "bad_request"
    status = 400
    title = "Bad request"
    remediation = "Fix the named header or parameter and send the request again."


class Gone(DomainError):
    code = "gone"
    status = 410
    title = "Gone"
    remediation = "The resource was archived or removed; it is not served here any more."


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    status = 412
    title = "Precondition failed"
    remediation = "GET the resource again and send its current ETag in If-Match."


class PreconditionRequired(DomainError):
    code = "precondition_required"
    status = 428
    title = "Precondition required"
    remediation = "GET the resource, then send its ETag in an If-Match header."


class InvalidInput(DomainError):
    code = "invalid"
    status = 422
    title = "Invalid request"
    remediation = "Fix the field named in `errors` and send the request again."


class DependencyUnavailable(DomainError):
    """A database, broker or bus did not answer; nothing was written."""

    code = "dependency_unavailable"
    status = 503
    title = "Dependency unavailable"
    remediation = "Retry after the number of seconds in Retry-After."
    dependency: ClassVar[str] = "unknown"
    retry_after: ClassVar[int] = 5

    def __init__(
        self, detail: str | None = None, *, dependency: str | None = None, retry_after: int | None = None, **kwargs: Any
    ) -> None:
        if dependency is not None:
            self.dependency = dependency
        if retry_after is not None:
            self.retry_after = retry_after
        headers = {"Retry-After": str(self.retry_after), **(kwargs.pop("headers", None) or {})}
        extra = {"dependency": self.dependency, **(kwargs.pop("extra", None) or {})}
        super().__init__(detail, headers=headers, extra=extra, **kwargs)


class IdempotencyKeyReused(InvalidInput):
    """An Idempotency-Key already taken by this caller for a different request (another body,
    another patient, or another use case) — on any shard. Every use case answers this one way:
    422, because the request is well formed but cannot be processed under that key (the IETF
    Idempotency-Key draft's status for a key reused with a different payload). Same key and same
    request is not an error: the first answer is replayed."""

    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"
    remediation = (
        "Send a new Idempotency-Key (for example a fresh UUID) for a new request; repeat a key only to "
        "retry the identical request, which replays its first answer."
    )
    default_detail = "You already used this Idempotency-Key for a different request."
