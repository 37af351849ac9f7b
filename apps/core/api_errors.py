"""API errors as RFC 9457 problem details, each with a ``remediation`` member telling the caller
what to change. Unexpected errors still answer 500, but routing and transient database errors are
mapped to clear 4xx/503 answers."""

from __future__ import annotations

from django.db import DatabaseError, IntegrityError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .errors import DomainError
from .ids import InvalidShardedId
from .resolver import ShardMapMissing

PROBLEM_CONTENT_TYPE = "application/problem+json"

_DEFAULT_REMEDIATION = {
    400: "Fix the fields listed in `errors` and send the request again.",
    401: "Send `Authorization: Token <your persona token>` (see `python manage.py persona_tokens`).",
    403: "Use a persona whose role is allowed to perform this operation.",
    404: "Check the id; it may not exist or you may not have access to it.",
    405: "Use one of the methods listed in the Allow header.",
    406: "Ask for application/json.",
    415: "Send the body as application/json.",
    429: "Slow down and retry after the number of seconds in Retry-After.",
}


class Problem(APIException):
    """An API error with an explicit status, title, remediation and optional extra members."""

    def __init__(self, *, status_code: int, title: str, detail: str, remediation: str, code: str = "error", **extra):
        self.status_code = status_code
        self.title = title
        self.remediation = remediation
        self.extra = extra
        super().__init__(detail=detail, code=code)


def problem_response(*, status_code: int, title: str, detail, remediation: str, headers=None, **extra) -> Response:
    body = {"type": "about:blank", "title": title, "status": status_code, "detail": detail, "remediation": remediation}
    body.update(extra)
    response = Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def problem_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = exc.as_problem()
        response = Response(body, status=exc.status, headers=exc.headers or None, content_type=PROBLEM_CONTENT_TYPE)
        return response
    if isinstance(exc, Problem):
        return problem_response(
            status_code=exc.status_code,
            title=exc.title,
            detail=str(exc.detail),
            remediation=exc.remediation,
            code=exc.get_codes(),
            **exc.extra,
        )
    if isinstance(exc, InvalidShardedId):
        return problem_response(
            status_code=status.HTTP_404_NOT_FOUND,
            title="Not found",
            detail=str(exc),
            remediation="Ids are the numeric strings returned by the API; check you copied the whole id.",
        )
    if isinstance(exc, ShardMapMissing):
        return problem_response(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            title="Shard map incomplete",
            detail=str(exc),
            remediation="An operator must map this bucket in the shard map; retry afterwards.",
            headers={"Retry-After": "30"},
        )
    if isinstance(exc, DomainError):
        body = exc.as_problem()
        body.pop("type", None)
        return problem_response(
            status_code=exc.status,
            title=body.pop("title"),
            detail=body.pop("detail"),
            remediation=body.pop("remediation"),
            headers=exc.headers or None,
            **{k: v for k, v in body.items() if k != "status"},
        )
    if isinstance(exc, IntegrityError):
        # A genuine conflict with stored data: retrying the same request cannot succeed. Only the
        # constraint's name is shown; the server's message can quote the row (PHI).
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or "a constraint"
        return problem_response(
            status_code=status.HTTP_409_CONFLICT,
            title="Conflict with stored data",
            detail=f"The request conflicts with existing data ({constraint}); nothing was written.",
            remediation="Read the current state of the resource and send a request that does not duplicate it.",
            code="integrity_conflict",
        )
    if isinstance(exc, DatabaseError):
        return problem_response(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            title="Database unavailable",
            detail="The database did not complete the request in time; nothing was written.",
            remediation="Retry after the number of seconds in Retry-After.",
            headers={"Retry-After": "5"},
            dependency="database",
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    errors = None
    if isinstance(detail, dict) and "detail" not in detail:
        errors, detail = detail, "The request has invalid fields."
    elif isinstance(detail, dict):
        detail = detail["detail"]
    elif isinstance(detail, list):
        errors, detail = {"non_field_errors": detail}, "The request is invalid."
    body = {
        "type": "about:blank",
        "title": response.status_text if hasattr(response, "status_text") else "Error",
        "status": response.status_code,
        "detail": str(detail),
        "remediation": _DEFAULT_REMEDIATION.get(response.status_code, "See `detail`."),
    }
    if errors is not None:
        body["errors"] = errors
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
