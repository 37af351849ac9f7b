"""``validate_sequences --from-traces``: replay each scenario against the running lab (the synthetic
probes), read the recorded traces from the shared trace store, derive each scenario's participants
and message order, write them as Mermaid next to the catalog and compare them with it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from apps.telemetry.tracing import shared_trace_store

from .models import ProbeOutcome, ProbeScenario
from .personas import probe_identities
from .runner import probe_run
from .sequence_catalog import SequenceCatalog
from .sequence_drift import NOT_TRACED
from .trace_sequences import DerivedSequence, SequenceDrift, sequence_compare, sequence_derive, sequence_mermaid

DERIVED_DIR = "docs/requirements/derived"
# Spans reach the store in batches (every 0.5 s per process); the relay and projection spans follow
# the request by a beat interval at most.
SETTLE_SECONDS = 6.0


class LiveSequenceError(RuntimeError):
    """The lab cannot be replayed (no trace store, no probe personas, a probe failed)."""


@dataclass
class LiveSequence:
    derived: DerivedSequence
    drift: SequenceDrift
    mermaid_path: Path


def derived_file_name(scenario_name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in scenario_name.lower()).strip("-") + ".mmd"


def scenario_spans(trace_ids: list[str], *, wanted: set[str], timeout: float = SETTLE_SECONDS) -> list[dict]:
    store = shared_trace_store()
    if store is None:
        raise LiveSequenceError(
            "No shared trace store: set PIMLAB_TRACE_STORE_URL (or PIMLAB_REDIS_URL) for every lab process."
        )
    deadline = time.monotonic() + timeout
    while True:
        spans = [span for trace_id in trace_ids for span in store.trace(trace_id)]
        if wanted <= {span["name"] for span in spans} or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def live_sequences_derive(
    *, catalog: SequenceCatalog, out_dir: Path, base_url: str | None = None, spans_of=scenario_spans
) -> list[LiveSequence]:
    identities = probe_identities()
    if not identities:
        raise LiveSequenceError("No synthetic probe personas: run `python manage.py probe_setup` on the lab.")
    by_label = {label: value for value, label in ProbeScenario.choices}
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for scenario in catalog.scenarios:
        probe_scenario = by_label.get(scenario.name)
        if probe_scenario is None:
            continue  # the failover scenario has no HTTP replay (see probes' chaos path)
        result = probe_run(scenario=probe_scenario, identity=identities[0], base_url=base_url)
        if result.outcome != ProbeOutcome.SUCCESS or not result.trace_id:
            raise LiveSequenceError(
                f"{scenario.name}: the probe did not succeed ({result.outcome}: {result.failed_step} {result.error})"
            )
        expected = {p.label for p in scenario.participants if p.label not in NOT_TRACED}
        spans = spans_of([result.trace_id], wanted=expected)
        caller = scenario.participants[0].label
        derived = sequence_derive(scenario, spans, caller=caller, trace_ids=[result.trace_id])
        path = out_dir / derived_file_name(scenario.name)
        path.write_text(sequence_mermaid(derived))
        results.append(
            LiveSequence(
                derived=derived,
                drift=sequence_compare(scenario, derived, not_traced=set(NOT_TRACED)),
                mermaid_path=path,
            )
        )
    return results
