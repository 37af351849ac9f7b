"""The API's one error renderer: every refusal answers RFC 9457 problem+json with a ``remediation``
member telling the caller what to change.

Services raise ``apps.core.errors.DomainError`` subclasses (with their status, headers and extra
members); DRF's own exceptions (validation, authentication, permission, negotiation) and a
database that did not answer are rendered in the same shape. Unexpected errors still answer 500.
``api_not_found`` does the same for URLs under ``/api/`` that match no route, so a malformed id in
a path gets a problem, not Django's HTML page.
"""

from __future__ import annotations

import json

from django.db import DatabaseError, IntegrityError
from django.http import HttpResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .errors import Conflict, DependencyUnavailable, DomainError, NotFound

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


def problem_exception_handler(exc, context):
    """DRF ``EXCEPTION_HANDLER``: DomainError, DRF exceptions and database outages as problem+json."""
    if isinstance(exc, IntegrityError):
        # A genuine conflict with stored data: retrying the same request cannot succeed. Only the
        # constraint's name is shown; the server's message can quote the row (PHI).
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or "a constraint"
        exc = Conflict(
            f"The request conflicts with existing data ({constraint}); nothing was written.",
            title="Conflict with stored data",
            remediation="Read the current state of the resource and send a request that does not duplicate it.",
            code="integrity_conflict",
        )
    elif isinstance(exc, DatabaseError):
        exc = DependencyUnavailable(
            "The database did not complete the request in time; nothing was written.",
            title="Database unavailable",
            dependency="database",
        )
    if isinstance(exc, DomainError):
        return Response(exc.as_problem(), status=exc.status, headers=exc.headers, content_type=PROBLEM_CONTENT_TYPE)
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = _drf_problem(exc, response)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _drf_problem(exc, response) -> dict:
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
        "code": exc.default_code if isinstance(exc, exceptions.APIException) else "error",
    }
    if errors is not None:
        body["errors"] = errors
    return body


def api_not_found(request, exception=None):
    """``handler404``: problem+json for unrouted ``/api/`` URLs (e.g. a non-numeric id), HTML elsewhere."""
    if not request.path.startswith("/api/"):
        return page_not_found(request, exception)
    problem = NotFound(f"No API resource at {request.path}.", code="no_route")
    return HttpResponse(json.dumps(problem.as_problem()), status=problem.status, content_type=PROBLEM_CONTENT_TYPE)
