"""Which persona may open which portal page: one decorator, refusals render the 403 page."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from apps.core.permissions import persona_role


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
