"""What an activity is, the context it runs in, and the decorators that register it.

An activity is a function ``fn(ctx, **arguments)`` returning JSON-serialisable output. Action
modules import this module (and nothing imports them back from here); ``apps.chaos.activities``
imports every action module and answers look-ups, so there is no registry ⇄ actions cycle.

Each activity declares what the dry-run checks before anything runs:
- ``target_kinds``: the blast-radius target kinds it touches;
- ``limits``: the ceiling of every numeric argument (``{"seconds": 600}``) — an argument the
  function does not take is refused, so a manifest cannot pass paths, commands, URLs or env;
- ``choices``: the values a string argument may take (``component``, ``table``, ``node``);
- ``requires``: the profile capabilities it needs (``postgresql_shard``, ``postgresql_audit``,
  ``ha_pair``, ``supervised:<component>``, ``lab_url`` …), checked by the dry-run
  (``apps.chaos.dry_run.capability_problem``).
"""

from __future__ import annotations

import inspect
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
    limits: dict[str, float] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    requires: tuple[str, ...] = ()

    @property
    def parameters(self) -> list[str]:
        """Argument names a manifest may give (everything after ``ctx``)."""
        return list(inspect.signature(self.function).parameters)[1:]


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
    # Seconds left before the run's hard stop (duration_seconds); None outside a run's method.
    time_left: Callable[[], float | None] = lambda: None

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


ACTIVITIES: dict[tuple[str, str], Activity] = {}


def _register(kind: str, name: str, function: ActivityFunction, **declared) -> None:
    summary = declared.pop("summary", "") or (function.__doc__ or "")
    ACTIVITIES[(kind, name)] = Activity(name, kind, function, summary=summary, **declared)


def action(
    name: str,
    *,
    targets: tuple[str, ...] = (),
    summary: str = "",
    limits: dict[str, float] | None = None,
    choices: dict[str, tuple[str, ...]] | None = None,
    requires: tuple[str, ...] = (),
):
    def register(function: ActivityFunction) -> ActivityFunction:
        _register(
            "action",
            name,
            function,
            target_kinds=targets,
            summary=summary,
            limits=dict(limits or {}),
            choices=dict(choices or {}),
            requires=requires,
        )
        return function

    return register


def probe(
    name: str,
    *,
    summary: str = "",
    limits: dict[str, float] | None = None,
    choices: dict[str, tuple[str, ...]] | None = None,
    requires: tuple[str, ...] = (),
):
    def register(function: ActivityFunction) -> ActivityFunction:
        _register(
            "probe",
            name,
            function,
            summary=summary,
            limits=dict(limits or {}),
            choices=dict(choices or {}),
            requires=requires,
        )
        return function

    return register
