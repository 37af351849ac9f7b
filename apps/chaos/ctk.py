"""Chaos Toolkit bridge: export a revision as a Chaos Toolkit experiment, and the python providers it calls.

Every exported activity is a ``python`` provider calling :func:`run_action` or :func:`run_probe`
here, which run this project's registered activity; so ``chaos run exported.json`` exercises
the very code the controller runs. Activities of one ``chaos run`` share state (the workload
handle, the fault's time) through this module, as they share a process.

``chaos run`` needs the project importable and its settings: ``PYTHONPATH=<checkout>`` and
``DJANGO_SETTINGS_MODULE`` (``pimlab_portal.settings.local`` unless set).

Exports stay governed: the exported experiment carries a Chaos Toolkit control (this module)
whose ``before_experiment_control`` and ``before_method_control`` check that the exported
revision is still approved and the kill switch is released, and interrupt the run otherwise, so
``chaos run`` never reaches the method of a retired, superseded or switched-off drill.
"""

from __future__ import annotations

import os
from typing import Any

MODULE = "apps.chaos.ctk"
_STATE: dict = {}
_SUMMARY: dict = {}


def _django_ready() -> None:
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimlab_portal.settings.local")
        django.setup()


def _context(configuration: dict | None):
    from .registry import ActivityContext

    return ActivityContext(configuration=configuration or {}, state=_STATE, summary=_SUMMARY, experiment_key="ctk")


def governance_refusal(revision_id: int | None) -> str | None:
    """Why an exported experiment must not run now (None when it may)."""
    _django_ready()
    from .models import ChaosSwitch, ExperimentRevision, RevisionStatus

    switch = ChaosSwitch.objects.filter(engaged=True).first()
    if switch is not None:
        return f"the chaos kill switch is engaged ({switch.reason or 'no reason given'})"
    revision = ExperimentRevision.objects.filter(pk=revision_id).first() if revision_id else None
    if revision is None:
        return f"revision {revision_id} does not exist in this lab"
    if revision.status != RevisionStatus.APPROVED:
        return f"revision {revision.number} of {revision.experiment.key} is {revision.status}, not approved"
    return None


def _governed(revision_id: int | None) -> None:
    from chaoslib.exceptions import InterruptExecution

    refusal = governance_refusal(revision_id)
    if refusal:
        raise InterruptExecution(f"pimlab governance: refused, {refusal}.")


def before_experiment_control(context: Any = None, revision_id: int | None = None, **kwargs) -> None:
    """Chaos Toolkit control: refuse to start unless the revision is approved and the switch released."""
    _governed(revision_id)


def before_method_control(context: Any = None, revision_id: int | None = None, **kwargs) -> None:
    """Chaos Toolkit control: checked again right before the method (the state may have changed)."""
    _governed(revision_id)


def _run(kind: str, name: str, arguments: dict | None, configuration: dict | None) -> Any:
    _django_ready()
    from .activities import get_activity

    activity = get_activity(kind, name)
    if activity is None:
        raise ValueError(f"Unknown {kind} {name!r} in this build of the project.")
    return activity.function(_context(configuration), **(arguments or {}))


def run_action(name: str, arguments: dict | None = None, configuration: dict | None = None) -> Any:
    """Chaos Toolkit python provider: run one of the project's registered actions."""
    return _run("action", name, arguments, configuration)


def run_probe(name: str, arguments: dict | None = None, configuration: dict | None = None) -> Any:
    """Chaos Toolkit python provider: run one of the project's registered probes."""
    return _run("probe", name, arguments, configuration)


def within_tolerance(value: Any = None, tolerance: Any = None) -> bool:
    """Chaos Toolkit probe tolerance with this project's semantics (list = one of, {min, max} = range)."""
    from .runner import tolerance_met

    return tolerance_met(tolerance, value)


def run_summary() -> dict:
    """Chaos Toolkit python provider (probe): what the activities measured so far (RTO, RPO, …)."""
    return dict(_SUMMARY)


# --- export ---------------------------------------------------------------------------------


def _provider(func: str, name: str, arguments: dict | None, configuration: dict) -> dict:
    return {
        "type": "python",
        "module": MODULE,
        "func": func,
        "arguments": {"name": name, "arguments": arguments or {}, "configuration": configuration},
    }


def _tolerance(tolerance: Any) -> Any:
    if isinstance(tolerance, bool | str | int) and not isinstance(tolerance, float):
        return tolerance
    return {
        "type": "probe",
        "name": "project tolerance",
        "provider": {
            "type": "python",
            "module": MODULE,
            "func": "within_tolerance",
            "arguments": {"tolerance": tolerance},
        },
    }


def _activity(activity: dict, configuration: dict) -> dict:
    kind = activity["type"]
    exported = {
        "type": kind,
        "name": activity["name"],
        "provider": _provider(f"run_{kind}", activity[kind], activity.get("arguments"), configuration),
    }
    if activity.get("pause_after_seconds"):
        exported["pauses"] = {"after": activity["pause_after_seconds"]}
    return exported


def export_experiment(manifest: dict, *, reference: str = "", revision_id: int | None = None) -> dict:
    """The manifest as a Chaos Toolkit experiment (version 1.0.0 format), governed by ``revision_id``."""
    configuration = dict(manifest.get("configuration") or {})
    hypothesis = manifest["steady_state_hypothesis"]
    return {
        "version": "1.0.0",
        "title": manifest["title"],
        "description": (manifest.get("description") or manifest["title"]).strip(),
        "tags": [*manifest.get("tags", []), "pimlab"],
        "contributions": {"reliability": "high", "availability": "high"},
        "extensions": [
            {
                "name": "pimlab",
                "reference": reference,
                "owner": manifest["owner"],
                "adr": manifest["adr"],
                "blast_radius": manifest["blast_radius"],
                "revision_id": revision_id,
            }
        ],
        "steady-state-hypothesis": {
            "title": hypothesis["title"],
            "probes": [
                {
                    "type": "probe",
                    "name": probe["name"],
                    "tolerance": _tolerance(probe["tolerance"]),
                    "provider": _provider("run_probe", probe["probe"], probe.get("arguments"), configuration),
                }
                for probe in hypothesis["probes"]
            ],
        },
        "controls": [
            {
                "name": "pimlab-governance",
                "provider": {"type": "python", "module": MODULE, "arguments": {"revision_id": revision_id}},
            }
        ],
        "method": [_activity(a, configuration) for a in manifest["method"]],
        "rollbacks": [_activity(a, configuration) for a in manifest.get("rollbacks", [])],
    }
