"""The portal's navigation by persona role: one list, shown by the base layout.

Entries name URL patterns; an entry whose pattern is not (yet) routed is left out, so a page
appears in the menu as soon as its view is wired.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from apps.core.models import PersonaRole
from apps.core.permissions import persona_role

_FINANCIAL = ("portal-financial-dashboard", "Financial dashboard")
_CONSOLE = [
    ("console-slos", "SLOs"),
    ("console-drills", "Drills"),
    ("console-probes", "Probes"),
    ("console-alerts", "Alerts"),
    ("portal-sequences", "Sequences"),
]
NAVIGATION: dict[str, list[tuple[str, str]]] = {
    PersonaRole.PATIENT: [("portal-my-visits", "My visits"), ("portal-book-visit", "Book a visit")],
    PersonaRole.CLINICIAN: [("portal-worklist", "Worklist")],
    PersonaRole.BILLING_ADMIN: [
        ("portal-ready-to-bill", "Ready to bill"),
        ("portal-claims", "Claims"),
        _FINANCIAL,
    ],
    PersonaRole.SRE: [*_CONSOLE, _FINANCIAL],
    PersonaRole.OPERATOR: [*_CONSOLE, _FINANCIAL],
}


def navigation(request) -> dict:
    """Template context processor: ``nav`` = [{url, title, active}] for the signed-in persona."""
    user = getattr(request, "user", None)
    entries = NAVIGATION.get(persona_role(user), []) if user is not None else []
    items = []
    for name, title in entries:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "title": title, "active": request.path.startswith(url)})
    return {"nav": items}
