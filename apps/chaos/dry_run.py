"""Dry-run of a manifest: every reason it must not run, grouped by check.

Checks (each reported, a failing one blocks execution — seed: "GitOps dry-run failure blocks
execution"): schema, known activities with only their own bounded arguments, targets inside the
blast radius, blast radius within policy, the profile's capabilities, resolvable ADR link,
schedule, no conflicting running experiment. Every message names the field and the rule.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

from celery.schedules import crontab
from django.conf import settings
from django.db import connections
from django.utils import timezone

from apps.core.ids import BUCKET_COUNT
from apps.core.models import ShardMapEntry

from . import components, ha_lab, manifests
from .actions_load import lab_url_problem
from .activities import get_activity, known
from .models import ExperimentRun, RunStatus

COMPONENTS = components.LAB_COMPONENTS
CHECKS = ("schema", "activities", "targets", "blast_radius", "capabilities", "adr", "schedule", "conflicts")
# Fixed waits of a method (pauses) must fit in duration_seconds, the run's hard stop.
WAIT_ARGUMENTS = {("action", "pause"): "seconds"}
# Every lab component carries every shard's asynchronous work (the relay and the bus every event,
# the projection worker every read model, the audit store every shard's audit rows, the shard map
# every routing decision), so an outage of one delays all patients' work.
COMPONENT_DELAYED_SHARE = 1.0


@dataclass
class DryRunReport:
    checks: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in CHECKS})

    def fail(self, check: str, message: str) -> None:
        self.checks[check].append(message)

    @property
    def ok(self) -> bool:
        return not any(self.checks.values())

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked_at": timezone.now().isoformat(),
            "checks": [{"check": name, "ok": not errors, "errors": errors} for name, errors in self.checks.items()],
        }


def policy() -> dict:
    return dict(settings.PIMLAB_CHAOS_POLICY)


def dry_run(manifest_text: str, *, experiment_id: int | None = None) -> DryRunReport:
    report = DryRunReport()
    manifest, errors = manifests.parse(manifest_text)
    for error in errors or manifests.schema_errors(manifest):
        report.fail("schema", error)
    if not report.ok:
        return report  # the other checks need a well-formed manifest
    check_activities(manifest, report)
    check_targets(manifest, report)
    check_blast_radius(manifest, report)
    check_duration(manifest, report)
    check_capabilities(manifest, report)
    check_adr(manifest["adr"], report)
    check_schedule(manifest.get("schedule"), report)
    check_conflicts(manifest, report, experiment_id=experiment_id)
    return report


def _activities(manifest: dict):
    """(where, kind, name, activity) for every probe and activity; ``where`` is its field path."""
    for index, probe in enumerate(manifest["steady_state_hypothesis"]["probes"]):
        yield f"steady_state_hypothesis.probes[{index}]", "probe", probe["probe"], probe
    for section in ("method", "rollbacks"):
        for index, activity in enumerate(manifest[section]):
            kind = activity["type"]
            yield f"{section}[{index}]", kind, activity.get(kind), activity


def check_activities(manifest: dict, report: DryRunReport) -> None:
    declared = {t["kind"] for t in manifest["blast_radius"]["targets"]}
    for where, kind, name, activity in _activities(manifest):
        if not name:
            report.fail("activities", f"{where}: activity {activity['name']!r} of type {kind} needs a {kind!r} name.")
            continue
        registered = get_activity(kind, name)
        if registered is None:
            report.fail(
                "activities",
                f"{where}: unknown {kind} {name!r}; known {kind}s: {', '.join(known(kind))}.",
            )
            continue
        check_arguments(where, registered, activity.get("arguments") or {}, report)
        outside = set(registered.target_kinds) - declared
        if outside:
            report.fail(
                "targets",
                f"{where}: {kind} {name!r} touches {', '.join(sorted(outside))}, which the blast radius does not list.",
            )


def check_arguments(where: str, registered, arguments: dict, report: DryRunReport) -> None:
    """Only the activity's own arguments; numbers under their ceilings; names from their choices."""
    allowed = registered.parameters
    for argument, value in arguments.items():
        field_name = f"{where}.arguments.{argument}"
        if argument not in allowed:
            report.fail(
                "activities",
                f"{field_name}: {registered.name} takes no argument {argument!r} (it takes: "
                f"{', '.join(allowed) or 'none'}); manifests name lab components and bounded numbers, "
                "never paths, commands, environments or URLs.",
            )
            continue
        if argument in registered.limits:
            ceiling = registered.limits[argument]
            if isinstance(value, bool) or not isinstance(value, int | float):
                report.fail("activities", f"{field_name}: must be a number (at most {ceiling:g}).")
            elif value < 0 or value > ceiling:
                report.fail(
                    "activities", f"{field_name}: {value!r} is outside 0–{ceiling:g}, the ceiling of {registered.name}."
                )
        if argument in registered.choices and value not in registered.choices[argument]:
            report.fail(
                "activities",
                f"{field_name}: {value!r} is not one of {', '.join(map(str, registered.choices[argument]))}.",
            )


def check_targets(manifest: dict, report: DryRunReport) -> None:
    targets = manifest["blast_radius"]["targets"]
    shards = {t["name"] for t in targets if t["kind"] == "shard"}
    declared_components = {t["name"] for t in targets if t["kind"] == "component"}
    for index, target in enumerate(targets):
        kind, name = target["kind"], target["name"]
        where = f"blast_radius.targets[{index}]"
        if kind == "shard" and name not in settings.SHARD_ALIASES:
            report.fail(
                "targets", f"{where}: Shard {name!r} does not exist; shards: {', '.join(settings.SHARD_ALIASES)}."
            )
        elif kind == "component" and name not in COMPONENTS:
            report.fail("targets", f"{where}: Component {name!r} is unknown; components: {', '.join(COMPONENTS)}.")
        elif kind == "ha_cluster" and name != ha_lab.SCOPE:
            report.fail("targets", f"{where}: HA cluster {name!r} is unknown; the lab's cluster is {ha_lab.SCOPE!r}.")
    for where, _, _, activity in _activities(manifest):
        arguments = activity.get("arguments") or {}
        shard = arguments.get("shard")
        if shard is not None and shard not in shards:
            report.fail(
                "targets",
                f"{where}.arguments.shard: {activity['name']!r} names shard {shard!r}, outside the blast radius "
                f"(shard targets: {', '.join(sorted(shards)) or 'none'}).",
            )
        component = arguments.get("component")
        if component is not None and component not in declared_components:
            report.fail(
                "targets",
                f"{where}.arguments.component: {activity['name']!r} acts on {component!r}, "
                "which the blast radius does not list as a component target.",
            )


def patient_share(shards: set[str]) -> float:
    """Share of logical buckets (so of patients) the shard map assigns to ``shards``."""
    if not shards:
        return 0.0
    covered: set[int] = set()
    for entry in ShardMapEntry.objects.using("default").filter(shard_alias__in=shards):
        covered.update(range(entry.bucket_start, min(entry.bucket_end, BUCKET_COUNT - 1) + 1))
    if not covered and not ShardMapEntry.objects.using("default").exists():
        return len(shards & set(settings.SHARD_ALIASES)) / max(1, len(settings.SHARD_ALIASES))
    return len(covered) / BUCKET_COUNT


def radius_shards(manifest: dict) -> set[str]:
    """The shards whose patients a drill's targets serve (the HA pair serves one shard's patients)."""
    targets = manifest["blast_radius"]["targets"]
    shards = {t["name"] for t in targets if t["kind"] == "shard"}
    if any(t["kind"] == "ha_cluster" for t in targets):
        shards.add(f"shard_{settings.PIMLAB_HA_SHARD_INDEX}")
    return shards


def check_blast_radius(manifest: dict, report: DryRunReport) -> None:
    radius, limits = manifest["blast_radius"], policy()
    for key in ("max_patient_share", "max_traffic_share", "max_delayed_share"):
        if key in radius and key in limits and radius[key] > limits[key]:
            report.fail("blast_radius", f"{key} {radius[key]} exceeds the policy limit {limits[key]}.")
    check_delayed_share(radius, report)
    shards = radius_shards(manifest)
    share = patient_share(shards)
    if share > radius["max_patient_share"] + 1e-9:
        report.fail(
            "blast_radius",
            f"The targeted shards hold {share:.0%} of patients, more than the declared max_patient_share "
            f"{radius['max_patient_share']:.0%}.",
        )
    # Patient traffic follows patients (buckets spread them evenly), so the shards' share is also
    # the least share of traffic the drill touches.
    if share > radius["max_traffic_share"] + 1e-9:
        report.fail(
            "blast_radius",
            f"blast_radius.max_traffic_share: the targeted shards serve about {share:.0%} of patient traffic, "
            f"more than the declared {radius['max_traffic_share']:.0%}.",
        )


def check_delayed_share(radius: dict, report: DryRunReport) -> None:
    """A lab component fails no request, but every shard's events, read models or audit rows pass
    through it: while it is out, the asynchronous work of every patient waits. The radius must say so."""
    components_named = sorted(t["name"] for t in radius["targets"] if t["kind"] == "component")
    if not components_named:
        return
    declared = radius.get("max_delayed_share")
    if declared is None or declared < COMPONENT_DELAYED_SHARE - 1e-9:
        report.fail(
            "blast_radius",
            f"blast_radius.max_delayed_share: the component target(s) {', '.join(components_named)} delay the "
            f"asynchronous work (events, read models, audit shipping) of {COMPONENT_DELAYED_SHARE:.0%} of patients; "
            f"declare max_delayed_share: {COMPONENT_DELAYED_SHARE:g}"
            + (f" (declared {declared:g})." if declared is not None else "."),
        )


def check_duration(manifest: dict, report: DryRunReport) -> None:
    """``duration_seconds`` is the run's hard stop: fixed waits and the abort condition must fit in it."""
    limit = manifest["duration_seconds"]
    abort_after = (manifest.get("abort_conditions") or {}).get("max_duration_seconds")
    if abort_after is not None and abort_after > limit:
        report.fail(
            "blast_radius",
            f"abort_conditions.max_duration_seconds: {abort_after} is above duration_seconds {limit}, "
            "the hard stop; lower it or drop it.",
        )
    waits = 0.0
    for activity in manifest["method"]:
        waits += float(activity.get("pause_after_seconds") or 0)
        argument = WAIT_ARGUMENTS.get((activity["type"], activity.get(activity["type"])))
        value = (activity.get("arguments") or {}).get(argument) if argument else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            waits += float(value)
    if waits > limit:
        report.fail(
            "blast_radius",
            f"duration_seconds: the method's fixed waits ({waits:g} s) exceed duration_seconds {limit}, "
            "after which the run is stopped and rolled back.",
        )
    for index, activity in enumerate(manifest["method"]):
        load = (activity.get("arguments") or {}).get("duration_seconds")
        if activity.get("action") == "persona_load_start" and isinstance(load, int | float) and load > limit:
            report.fail(
                "blast_radius",
                f"method[{index}].arguments.duration_seconds: the persona load's {load:g} s outlast "
                f"duration_seconds {limit}, the hard stop; lower it to at most {limit}.",
            )


def capability_problem(requirement: str, arguments: dict) -> str | None:
    """What the current profile lacks for ``requirement`` (None when it has it)."""
    if requirement == "postgresql_shard":
        shard = arguments.get("shard")
        if shard in settings.SHARD_ALIASES and connections[shard].vendor != "postgresql":
            return f"a PostgreSQL shard ({shard} is {connections[shard].vendor}: use the services profile)"
    elif requirement == "postgresql_audit":
        if connections["audit"].vendor != "postgresql":
            return f"the audit store on PostgreSQL (it is {connections['audit'].vendor}: use the services profile)"
    elif requirement == "ha_pair":
        state = ha_lab.load_state()
        if state is None or not ha_lab.process_alive(state.etcd_pid):
            return "the HA pair (run `python manage.py lab_ha up`)"
    elif requirement == "supervised":
        problem = components.supervision_problem(arguments.get("component", ""))
        if problem:
            return problem
    elif requirement == "lab_url":
        return lab_url_problem()
    elif requirement == "eventbus" and components.uses_redis_bus():
        problem = components.supervision_problem("eventbus")
        if problem:
            return problem + "; or use the embedded bus"
    return None


def check_capabilities(manifest: dict, report: DryRunReport) -> None:
    """Nothing is validated that the current profile cannot run."""
    seen: set[str] = set()
    for where, kind, name, activity in _activities(manifest):
        registered = get_activity(kind, name) if name else None
        if registered is None:
            continue
        arguments = {
            **{
                k: v.default
                for k, v in inspect.signature(registered.function).parameters.items()
                if v.default is not v.empty
            },
            **(activity.get("arguments") or {}),
        }
        for requirement in registered.requires:
            problem = capability_problem(requirement, arguments)
            if problem and problem not in seen:
                seen.add(problem)
                report.fail("capabilities", f"{where}: {kind} {name!r} needs {problem}.")


def check_adr(adr: str, report: DryRunReport) -> None:
    if adr.startswith(("http://", "https://")):
        pattern = settings.PIMLAB_CHAOS_ADR_URL_PATTERN
        if not re.match(pattern, adr):
            report.fail("adr", f"ADR URL {adr!r} does not match the accepted pattern {pattern}.")
        return
    base = Path(settings.BASE_DIR).resolve()
    path = (base / adr).resolve()
    adr_dir = (base / "docs" / "ADR").resolve()
    if adr_dir not in path.parents or not path.is_file():
        report.fail("adr", f"ADR {adr!r} is not a file under docs/ADR/ (e.g. docs/ADR/ADR-012-chaos-governance.md).")


def check_schedule(schedule: str | None, report: DryRunReport) -> None:
    if not schedule:
        return
    fields = schedule.split()
    if len(fields) != 5:
        report.fail("schedule", f"Cron schedule {schedule!r} needs 5 fields (minute hour day month weekday).")
        return
    try:
        crontab(*fields)
    except (ValueError, TypeError) as exc:
        report.fail("schedule", f"Cron schedule {schedule!r} is invalid: {exc}")


def _target_set(manifest: dict) -> set[tuple[str, str]]:
    return {(t["kind"], t["name"]) for t in manifest.get("blast_radius", {}).get("targets", [])}


def check_conflicts(manifest: dict, report: DryRunReport, *, experiment_id: int | None) -> None:
    mine = _target_set(manifest)
    running = ExperimentRun.objects.filter(status=RunStatus.RUNNING).select_related("revision__experiment")
    for run in running:
        theirs = _target_set(run.revision.manifest)
        same_experiment = experiment_id is not None and run.revision.experiment_id == experiment_id
        if same_experiment or mine & theirs:
            overlap = ", ".join(f"{k}:{n}" for k, n in sorted(mine & theirs)) or "the same experiment"
            report.fail(
                "conflicts",
                f"Run {run.pk} of {run.revision.experiment.key!r} is running on {overlap}; wait or abort it.",
            )
