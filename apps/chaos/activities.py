"""Every activity a manifest may name: importing this module registers them all (explicitly, once)."""

from __future__ import annotations

from . import actions_load, actions_platform, actions_sql, steady_state  # noqa: F401 - registration by import
from .registry import ACTIVITIES, Activity


def get_activity(kind: str, name: str) -> Activity | None:
    return ACTIVITIES.get((kind, name))


def known(kind: str) -> list[str]:
    return sorted(name for k, name in ACTIVITIES if k == kind)


def catalogue() -> list[dict]:
    return [
        {
            "kind": a.kind,
            "name": a.name,
            "targets": list(a.target_kinds),
            "summary": a.summary.strip().splitlines()[0],
            "arguments": a.parameters,
            "limits": a.limits,
            "choices": {k: list(v) for k, v in a.choices.items()},
            "requires": list(a.requires),
        }
        for a in sorted(ACTIVITIES.values(), key=lambda a: (a.kind, a.name))
        if a.summary.strip()
    ]
