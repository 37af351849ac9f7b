"""The registry of actions and probes a manifest may name, and the context they run in.

An activity is a function ``fn(ctx, **arguments)`` returning JSON-serialisable output. Actions
declare the kinds of target they touch, so the dry-run can check them against the manifest's
blast radius. The same functions back the Chaos Toolkit export (``apps.chaos.ctk``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ActivityFunction = Callable[..., Any]


class ChaosAborted(Exception):
    """Raised inside an activity when an abort was requested (kill switch, SRE, abort condition)."""


class ActivityFailed(Exception):
    """An activity could not do what it was asked; the run fails and rollbacks run."""


@dataclass(frozen=True)
class Activity:
    name: str
    kind: str  # "action" | "probe"
    function: ActivityFunction
    target_kinds: tuple[str, ...] = ()
    summary: str = ""


@dataclass
class ActivityContext:
    """What an activity sees: the run's shared state, its configuration and a way to check for abort."""

    configuration: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    run_id: int | None = None
    experiment_key: str = ""
    abort_check: Callable[[], str | None] = lambda: None
    annotate: Callable[[str, str], None] = lambda phase, text: None

    def check_abort(self) -> None:
        reason = self.abort_check()
        if reason:
            raise ChaosAborted(reason)

    def sleep(self, seconds: float, step: float = 0.5) -> None:
        """Sleep, but notice an abort within ``step`` seconds."""
        deadline = time.monotonic() + seconds
        while True:
            self.check_abort()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(step, left))

    def wait_for(self, check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.check_abort()
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise ActivityFailed(f"Timed out after {timeout:.0f} s waiting for {what}.")
            time.sleep(interval)


_ACTIVITIES: dict[tuple[str, str], Activity] = {}


def action(name: str, *, targets: tuple[str, ...] = (), summary: str = ""):
    def register(function: ActivityFunction) -> ActivityFunction:
        _ACTIVITIES[("action", name)] = Activity(name, "action", function, targets, summary or (function.__doc__ or ""))
        return function

    return register


def probe(name: str, *, summary: str = ""):
    def register(function: ActivityFunction) -> ActivityFunction:
        _ACTIVITIES[("probe", name)] = Activity(name, "probe", function, (), summary or (function.__doc__ or ""))
        return function

    return register


def load_activities() -> None:
    """Import the modules that register activities (kept explicit: no import-time magic elsewhere)."""
    from . import actions_platform, actions_sql, probes  # noqa: F401


def get_activity(kind: str, name: str) -> Activity | None:
    load_activities()
    return _ACTIVITIES.get((kind, name))


def known(kind: str) -> list[str]:
    load_activities()
    return sorted(name for k, name in _ACTIVITIES if k == kind)


def catalogue() -> list[dict]:
    load_activities()
    return [
        {"kind": a.kind, "name": a.name, "targets": list(a.target_kinds), "summary": a.summary.strip().splitlines()[0]}
        for a in sorted(_ACTIVITIES.values(), key=lambda a: (a.kind, a.name))
        if a.summary.strip()
    ]
