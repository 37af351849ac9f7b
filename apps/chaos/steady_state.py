"""Steady-state probes that are not tied to one component: SLOs, the kill switch, a pause."""

from __future__ import annotations

from apps.slo.prometheus_reader import PrometheusQueryError
from apps.slo.selectors import SloNotFound, slo_status
from apps.slo.services import slo_evaluate_all

from .registry import ActivityContext, ActivityFailed, action, probe

# What the SLO engine raises when it cannot answer: the probe fails (never passes silently).
SLO_ENGINE_ERRORS = (SloNotFound, PrometheusQueryError)


def _status(slo: str, *, evaluate: bool = False) -> dict:
    try:
        if evaluate:
            slo_evaluate_all()  # sample, evaluate and record alert transitions, as the beat task does
        return slo_status(slo)
    except SLO_ENGINE_ERRORS as exc:
        raise ActivityFailed(f"SLO {slo!r}: {type(exc).__name__}: {exc}") from exc


@probe("slo_alert_state")
def slo_alert_state(ctx: ActivityContext, slo: str) -> str:
    """Alert state of one SLO ("ok", "ticket" or "page"), freshly evaluated by the SLO engine."""
    return _status(slo, evaluate=True)["alert_state"]


@probe("slo_error_budget_remaining")
def slo_error_budget_remaining(ctx: ActivityContext, slo: str) -> float:
    """Remaining error budget of one SLO as a ratio (1.0 = untouched)."""
    return float(_status(slo)["error_budget_remaining_ratio"])


@probe("slo_burn_rate", choices={"window": ("5m", "30m", "1h", "2h", "6h", "1d", "3d")})
def slo_burn_rate(ctx: ActivityContext, slo: str, window: str = "5m") -> float:
    """Current burn rate of one SLO over one window (5m, 30m, 1h, 2h, 6h, 1d, 3d)."""
    burn_rates = _status(slo)["burn_rates"]
    if window not in burn_rates:
        raise ActivityFailed(f"No {window!r} burn rate; windows: {', '.join(burn_rates)}.")
    return float(burn_rates[window])


@probe("constant")
def constant(ctx: ActivityContext, value=True):
    """Returns its argument (dry runs and tests of the controller itself)."""
    return value


MAX_PAUSE_SECONDS = 600


@action("pause", targets=(), limits={"seconds": MAX_PAUSE_SECONDS})
def pause(ctx: ActivityContext, seconds: float = 1.0) -> dict:
    """Wait, noticing an abort within half a second."""
    ctx.sleep(seconds)
    return {"paused_seconds": seconds}


@action("fail", targets=())
def fail(ctx: ActivityContext, message: str = "requested failure") -> None:
    """Fails on purpose (tests that rollbacks run after a failed step)."""
    raise ActivityFailed(message)
