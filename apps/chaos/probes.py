"""Steady-state probes that are not tied to one component: SLOs, the kill switch, a pause."""

from __future__ import annotations

from . import slo_adapter
from .registry import ActivityContext, ActivityFailed, action, probe


@probe("slo_alert_state")
def slo_alert_state(ctx: ActivityContext, slo: str) -> str:
    """Alert state of one SLO ("ok", "ticket" or "page"), freshly evaluated."""
    try:
        slo_adapter.slo_evaluate_all()
        return slo_adapter.slo_status(slo)["alert_state"]
    except slo_adapter.SloEngineUnavailable as exc:
        raise ActivityFailed(str(exc)) from exc


@probe("slo_error_budget_remaining")
def slo_error_budget_remaining(ctx: ActivityContext, slo: str) -> float:
    """Remaining error budget of one SLO as a ratio (1.0 = untouched)."""
    try:
        return float(slo_adapter.slo_status(slo)["error_budget_remaining_ratio"])
    except slo_adapter.SloEngineUnavailable as exc:
        raise ActivityFailed(str(exc)) from exc


@probe("slo_burn_rate")
def slo_burn_rate(ctx: ActivityContext, slo: str, window: str = "5m") -> float:
    """Current burn rate of one SLO over one window (5m, 30m, 1h, 2h, 6h, 1d, 3d)."""
    try:
        return float(slo_adapter.slo_status(slo)["burn_rates"][window])
    except slo_adapter.SloEngineUnavailable as exc:
        raise ActivityFailed(str(exc)) from exc


@probe("constant")
def constant(ctx: ActivityContext, value=True):
    """Returns its argument (dry runs and tests of the controller itself)."""
    return value


@action("pause", targets=())
def pause(ctx: ActivityContext, seconds: float = 1.0) -> dict:
    """Wait, noticing an abort within half a second."""
    ctx.sleep(seconds)
    return {"paused_seconds": seconds}


@action("fail", targets=())
def fail(ctx: ActivityContext, message: str = "requested failure") -> None:
    """Fails on purpose (tests that rollbacks run after a failed step)."""
    raise ActivityFailed(message)
