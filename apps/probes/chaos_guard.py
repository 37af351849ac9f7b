"""Chaos-safe probe schedules: a probe does not run while a chaos experiment covers its target.

Decision: skip (and record the skip with its reason) rather than run and tag the result. A probe
that fails because a drill broke its shard on purpose says nothing about the SLO the probe guards,
and counting it would spend error budget on a planned experiment. The drill has its own steady-state
probes and abort conditions (apps.chaos).

Coverage of a running experiment's ``blast_radius.targets``:
- ``shard`` target: probes of that shard;
- ``ha_cluster`` target: every shard (which shard the HA pair serves is deployment configuration);
- ``component`` target: the scenarios whose steps depend on that component (below); a component
  this table does not know covers every scenario."""

from __future__ import annotations

from dataclasses import dataclass

from apps.chaos.models import ExperimentRun, RunStatus

from .models import ProbeScenario

# Components each scenario's steps wait on: every booking waits for its event on the bus and writes
# an audit event; the claim probe also waits for the projection worker.
SCENARIO_COMPONENTS = {
    ProbeScenario.ENCOUNTER_BOOKING: {"eventbus", "audit_store"},
    ProbeScenario.CLINICAL_DOCUMENTATION: {"eventbus", "audit_store"},
    ProbeScenario.CLAIM_SUBMISSION: {"eventbus", "audit_store", "projection_worker"},
}
KNOWN_COMPONENTS = set().union(*SCENARIO_COMPONENTS.values())


@dataclass(frozen=True)
class ChaosCover:
    run_id: int
    experiment_key: str
    target: str

    @property
    def reason(self) -> str:
        return f"chaos run {self.run_id} ({self.experiment_key}) targets {self.target}"


def target_covers(target: dict, *, scenario: str, shard_alias: str) -> bool:
    kind, name = target.get("kind"), target.get("name")
    if kind == "shard":
        return name == shard_alias
    if kind == "component" and name in KNOWN_COMPONENTS:
        return name in SCENARIO_COMPONENTS.get(scenario, KNOWN_COMPONENTS)
    return True  # ha_cluster, unknown kinds and components: assume the probe is inside the blast radius


def chaos_cover(*, scenario: str, shard_alias: str) -> ChaosCover | None:
    """The first running chaos experiment whose blast radius covers this probe, if any."""
    running = (
        ExperimentRun.objects.using("default").filter(status=RunStatus.RUNNING).select_related("revision__experiment")
    )
    for run in running.order_by("started_at"):
        targets = (run.revision.manifest.get("blast_radius") or {}).get("targets") or [{"kind": "unknown"}]
        for target in targets:
            if target_covers(target, scenario=scenario, shard_alias=shard_alias):
                return ChaosCover(
                    run_id=run.pk,
                    experiment_key=run.revision.experiment.key,
                    target=f"{target.get('kind')}:{target.get('name')}",
                )
    return None
