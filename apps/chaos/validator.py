"""Dry-run of a manifest: every reason it must not run, grouped by check.

Checks (each reported, a failing one blocks execution — seed: "GitOps dry-run failure blocks
execution"): schema, known activities, existing targets, blast radius within policy, resolvable
ADR link, schedule, no conflicting running experiment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from apps.core.ids import BUCKET_COUNT
from apps.core.models import ShardMapEntry

from . import ha_lab, manifests, registry

COMPONENTS = ("eventbus", "projection_worker", "audit_store", "shard_map")
CHECKS = ("schema", "activities", "targets", "blast_radius", "adr", "schedule", "conflicts")


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
    check_adr(manifest["adr"], report)
    check_schedule(manifest.get("schedule"), report)
    check_conflicts(manifest, report, experiment_id=experiment_id)
    return report


def _activities(manifest: dict):
    for probe in manifest["steady_state_hypothesis"]["probes"]:
        yield "steady_state_hypothesis", "probe", probe["probe"], probe
    for section in ("method", "rollbacks"):
        for activity in manifest[section]:
            kind = activity["type"]
            yield section, kind, activity.get(kind), activity


def check_activities(manifest: dict, report: DryRunReport) -> None:
    declared = {t["kind"] for t in manifest["blast_radius"]["targets"]}
    for section, kind, name, activity in _activities(manifest):
        if not name:
            report.fail("activities", f"{section}: activity {activity['name']!r} of type {kind} needs a {kind!r} name.")
            continue
        known = registry.get_activity(kind, name)
        if known is None:
            report.fail(
                "activities",
                f"{section}: unknown {kind} {name!r}; known {kind}s: {', '.join(registry.known(kind))}.",
            )
            continue
        outside = set(known.target_kinds) - declared
        if outside:
            report.fail(
                "targets",
                f"{section}: {kind} {name!r} touches {', '.join(sorted(outside))}, "
                "which the blast radius does not list.",
            )


def check_targets(manifest: dict, report: DryRunReport) -> None:
    shards = {t["name"] for t in manifest["blast_radius"]["targets"] if t["kind"] == "shard"}
    for target in manifest["blast_radius"]["targets"]:
        kind, name = target["kind"], target["name"]
        if kind == "shard" and name not in settings.SHARD_ALIASES:
            report.fail("targets", f"Shard {name!r} does not exist; shards: {', '.join(settings.SHARD_ALIASES)}.")
        elif kind == "component" and name not in COMPONENTS:
            report.fail("targets", f"Component {name!r} is unknown; components: {', '.join(COMPONENTS)}.")
        elif kind == "ha_cluster":
            state = ha_lab.load_state()
            if name != ha_lab.SCOPE:
                report.fail("targets", f"HA cluster {name!r} is unknown; the lab's cluster is {ha_lab.SCOPE!r}.")
            elif state is None or not ha_lab.process_alive(state.etcd_pid):
                report.fail("targets", f"HA cluster {name!r} is not up; run `python manage.py lab_ha up`.")
    for section, _, _, activity in _activities(manifest):
        shard = (activity.get("arguments") or {}).get("shard")
        if shard is not None and shard not in shards:
            report.fail("targets", f"{section}: {activity['name']!r} names shard {shard!r}, outside the blast radius.")


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


def check_blast_radius(manifest: dict, report: DryRunReport) -> None:
    radius, limits = manifest["blast_radius"], policy()
    for key in ("max_patient_share", "max_traffic_share"):
        if radius[key] > limits[key]:
            report.fail("blast_radius", f"{key} {radius[key]} exceeds the policy limit {limits[key]}.")
    shards = {t["name"] for t in radius["targets"] if t["kind"] == "shard"}
    share = patient_share(shards)
    if share > radius["max_patient_share"] + 1e-9:
        report.fail(
            "blast_radius",
            f"The targeted shards hold {share:.0%} of patients, more than the declared max_patient_share "
            f"{radius['max_patient_share']:.0%}.",
        )


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
    from .models import ExperimentRun, RunStatus

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
