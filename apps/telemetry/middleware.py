"""Per-request telemetry: binds persona/role and the trace id to the log context, tags the
server span, and records ``http_server_duration_seconds`` by route template, method, status and
persona."""

from __future__ import annotations

import time

from opentelemetry import trace

from . import context
from .metrics import HTTP_SERVER_DURATION_SECONDS
from .participants import Participant
from .spans import participant_span

API_PREFIX = "/api/"


class RequestTelemetryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        persona = _persona_role(request)
        context.bind(persona=persona, actor_role=persona, trace_id=context.current_trace_id())
        if request.path_info.startswith(API_PREFIX):
            # The seed's "API Gateway": authentication, throttling, content negotiation and routing
            # to the API controller, for every API call.
            with participant_span(Participant.API_GATEWAY, refresh_labels=True) as gateway:
                gateway.set_attribute("http.method", request.method)
                response = self.get_response(request)
                gateway.set_attribute("http.route", _route(request))
                gateway.set_attribute("http.status_code", response.status_code)
        else:
            response = self.get_response(request)
        # DRF authenticates tokens inside the view: read the persona again afterwards.
        persona = _persona_role(request)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("persona", persona)
            span.set_attribute("actor_role", persona)
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                span.set_attribute("user_id", str(user.pk))
        request_id = context.current()["request_id"]
        if request_id:
            if span.is_recording():
                span.set_attribute("request_id", request_id)
            # Lets a caller quote the id that every log line of this request carries.
            response.headers.setdefault("X-Request-ID", request_id)
        HTTP_SERVER_DURATION_SECONDS.labels(
            route=_route(request), method=request.method, status=str(response.status_code), persona=persona
        ).observe(time.perf_counter() - started)
        return response


def _route(request) -> str:
    return getattr(getattr(request, "resolver_match", None), "route", None) or "unmatched"


def _persona_role(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        persona = getattr(user, "persona", None)
        return persona.role if persona is not None else "staff"
    # A token resolved at the start of the request (before DRF sets request.user).
    return getattr(request, "pimlab_persona_role", None) or "anonymous"
