"""Which persona may open which portal page: one decorator, refusals render the 403 page."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from apps.core.permissions import persona_role
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span


def persona_required(*roles: str):
    """Sign-in required; then only personas of ``roles`` get the page (others get the 403 page)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if persona_role(request.user) not in roles:
                raise PermissionDenied(
                    "This page belongs to another persona. Use the menu to open the pages of your role."
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def through_gateway(view):
    """A portal form post enters the system like an API call: inside the seed's "API Gateway"
    span (session authentication, routing), so its trace has the same participants as its API twin."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        with participant_span(Participant.API_GATEWAY, refresh_labels=True) as gateway:
            response = view(request, *args, **kwargs)
            gateway.set_attribute("http.route", getattr(request.resolver_match, "route", "") or "")
            gateway.set_attribute("http.status_code", response.status_code)
            return response

    return wrapped
