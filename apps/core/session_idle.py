"""Session idle timeout without a session write per request.

A session lives ``SESSION_COOKIE_AGE`` seconds (the idle timeout) after it was last saved. Saving on
every request (``SESSION_SAVE_EVERY_REQUEST``) would add a write to every portal and admin page, so
this middleware marks the session modified at most once per ``PIMLAB_SESSION_TOUCH_SECONDS``: a
session ends between ``SESSION_COOKIE_AGE - PIMLAB_SESSION_TOUCH_SECONDS`` and ``SESSION_COOKIE_AGE``
seconds after the last request."""

from __future__ import annotations

import time

from django.conf import settings

TOUCHED_KEY = "_pimlab_touched"


class SessionIdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and request.COOKIES.get(settings.SESSION_COOKIE_NAME):
            now = int(time.time())
            if now - session.get(TOUCHED_KEY, 0) >= settings.PIMLAB_SESSION_TOUCH_SECONDS:
                session[TOUCHED_KEY] = now  # modified: saved at the end with a fresh expiry
        return self.get_response(request)


def session_touch_on_login(sender, request, user, **kwargs) -> None:
    """Logging in saves the session anyway: record the touch with it."""
    if hasattr(request, "session"):
        request.session[TOUCHED_KEY] = int(time.time())
