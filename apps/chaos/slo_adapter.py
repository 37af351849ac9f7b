"""The chaos app's view of the SLO engine (``apps.slo.selectors`` / ``apps.slo.services``).

The engine is a separate component; when it does not provide these functions, every call raises
``SloEngineUnavailable`` with a clear message, so a steady-state probe based on an SLO fails
loudly instead of passing silently.
"""

from __future__ import annotations

import importlib


class SloEngineUnavailable(RuntimeError):
    pass


def _function(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise SloEngineUnavailable(
            f"The SLO engine does not provide {module}.{name} in this build; SLO-based probes cannot be evaluated."
        ) from exc


def slo_status(name: str) -> dict:
    status = _function("apps.slo.selectors", "slo_status")(name)
    if not status:
        raise SloEngineUnavailable(f"No SLO named {name!r} is defined.")
    return status


def slo_status_list() -> list[dict]:
    return list(_function("apps.slo.selectors", "slo_status_list")())


def slo_evaluate_all() -> None:
    _function("apps.slo.services", "slo_evaluate_all")()


def paging_slos() -> list[dict]:
    """SLOs whose multiwindow burn rate is at page level right now (after a fresh evaluation)."""
    slo_evaluate_all()
    return [s for s in slo_status_list() if s.get("alert_state") == "page"]
