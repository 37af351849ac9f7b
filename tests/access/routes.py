"""Every route of the URL conf, with a concrete path for the lab's route-matrix world."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLResolver, get_resolver

PERSONAS = ("anonymous", "patient", "clinician_on", "clinician_off", "billing_admin", "sre", "operator")


@dataclass(frozen=True)
class Route:
    key: str  # the URL name ("admin:core_persona_change", "encounter-detail"), else the pattern
    pattern: str  # "api/encounters/<str:encounter_id>"
    methods: tuple[str, ...]  # handler methods of a class-based view; () for function views


def all_routes() -> list[Route]:
    def walk(resolver, prefix="", namespace=None):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(n for n in (namespace, entry.namespace) if n) or None
                yield from walk(entry, prefix + str(entry.pattern), inner)
                continue
            pattern = prefix + str(entry.pattern)
            name = ":".join(n for n in (namespace, entry.name) if n) if entry.name else pattern
            view_class = getattr(entry.callback, "view_class", None)
            methods = tuple(m for m in ("get", "post", "patch") if view_class and hasattr(view_class, m))
            yield Route(name, pattern, methods)

    return list(walk(get_resolver()))


_PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def concrete_path(route: Route, params: dict[str, str]) -> str:
    """The route's path with each parameter replaced by the world's value for it."""
    path = _PARAM.sub(lambda m: str(params[m.group("name") or m.group("rname")]), route.pattern)
    # simple-history's version page: unnamed groups (object id, history id).
    unnamed = iter((params["object_id"], "0"))
    path = re.sub(r"\(\[\^/\]\+\)", lambda m: next(unnamed), path)
    return "/" + path.replace("^", "").replace("$", "").replace("\\", "")
