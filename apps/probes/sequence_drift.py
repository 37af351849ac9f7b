"""Drift between the runtime sequence catalog and the repository (``manage.py validate_sequences``).

Checks, each reported per scenario:
- diagrams: one Mermaid sequenceDiagram per scenario, every message between declared participants,
  every participant in some message, the scenario index naming the same scenarios;
- paths: every runbook, dashboard, ADR, architecture note and test path the catalog names exists
  (``PATH_ALIASES`` maps the catalog's spec names to the pytest modules that implement them);
- spans: every diagram participant that is a traced component appears as a span name in the runtime
  test module of its scenario (``tests/runtime/*.py``; a module belongs to the scenarios whose name
  its docstring quotes); participants outside the traced process are listed in ``NOT_TRACED`` with
  the reason; every other participant must be a member of ``apps.telemetry.participants.Participant``
  (the one source of span names), so a span and its participant never go by different names;
- metrics: every metric an "Instrumentation Notes" block names is exported by the metrics registry
  that ``/metrics`` serves (after importing every app's URLs, metrics and tasks modules);
- dashboards: each scenario's dashboard in ``dashboards/sequence-catalog/`` queries its metrics;
- seed: the repository's copy of the catalog equals the seed, when the seed is at hand."""

from __future__ import annotations

import ast
import glob
import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from apps.telemetry.participants import Participant, participant_of

from .sequence_catalog import SequenceCatalog, catalog_parse

# The catalog names its integration tests as `.spec` files; the suite implements them as pytest modules.
PATH_ALIASES = {
    "tests/runtime/encounter_booking_sequence.spec": "tests/runtime/test_encounter_booking_sequence.py",
}
# Participants that are not spans of the lab's process, with the reason (shown in the report).
NOT_TRACED = {
    Participant.PATIENT_PERSONA: "the caller (its requests are the server spans' parents)",
    Participant.CLINICIAN_PERSONA: "the caller (its requests are the server spans' parents)",
    Participant.ADMIN_PERSONA: "the caller (its requests are the server spans' parents)",
    Participant.SRE_OPERATOR: "the person running the drill (recorded as launched_by/closed_by on the run)",
    Participant.METRICS_LOGS_TRACES: "the telemetry backends the spans are exported to",
    Participant.OBSERVABILITY_STACK: "the telemetry backends; its annotations are TimelineAnnotation rows",
    Participant.GITOPS_CONTROLLER: "the manifest folder and `manage.py chaos_reconcile` (revisions, dry run, "
    "approval); "
    "a batch step, covered by tests/chaos/test_governance.py",
}
# (scenario, participant label) -> why the code emits no such span yet. Reported as a known gap (not
# drift); once a runtime test asserts the span, the entry itself is reported as drift (remove it).
KNOWN_GAPS: dict[tuple[str, str], str] = {}
# Scenario -> the file name of its Grafana dashboard under dashboards/sequence-catalog/.
DASHBOARD_OF = {
    "Patient Books Encounter": "patient-books-encounter.json",
    "Clinician Documents Encounter": "clinician-documents-encounter.json",
    "Billing Submits Claim": "billing-submits-claim.json",
    "Chaos-Induced Failover": "chaos-induced-failover.json",
}


@dataclass
class Finding:
    check: str
    scenario: str
    subject: str
    ok: bool
    detail: str = ""
    known_gap: bool = False


@dataclass
class DriftReport:
    catalog_path: Path
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, check: str, scenario: str, subject: str, ok: bool, detail: str = "", known_gap: bool = False) -> None:
        self.findings.append(Finding(check, scenario, subject, ok, detail, known_gap))

    @property
    def drift(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]


def _path_exists(root: Path, path: str) -> tuple[bool, str]:
    target = PATH_ALIASES.get(path, path)
    via = f" (implemented by {target})" if target != path else ""
    if "*" in target:
        matches = glob.glob(str(root / target))
        return bool(matches), f"{len(matches)} file(s) match the pattern{via}"
    full = root / target
    if target.endswith("/"):
        return full.is_dir() and any(full.iterdir()), f"folder{via}"
    return full.is_file(), via.strip()


def _string_constants(module_path: Path) -> tuple[str, set[str]]:
    tree = ast.parse(module_path.read_text())
    docstring = ast.get_docstring(tree) or ""
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    return docstring, strings


def exported_metric_names() -> set[str]:
    """Names the /metrics registry exposes, as in a web process plus its Celery workers."""
    from django.conf import settings
    from prometheus_client import REGISTRY, generate_latest

    importlib.import_module(settings.ROOT_URLCONF)
    for app_dir in sorted((Path(settings.BASE_DIR) / "apps").iterdir()):
        for module in ("metrics", "tasks"):
            if (app_dir / f"{module}.py").is_file():
                importlib.import_module(f"apps.{app_dir.name}.{module}")
    names: set[str] = set()
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
    return names


def _dashboard_queries(path: Path) -> str:
    data = json.loads(path.read_text())
    return " ".join(target.get("expr", "") for panel in data.get("panels", []) for target in panel.get("targets", []))


def sequences_validate(
    *, catalog_path: Path, root: Path, seed_path: Path | None = None, metric_names: set[str] | None = None
) -> DriftReport:
    report = DriftReport(catalog_path=catalog_path)
    text = catalog_path.read_text()
    catalog: SequenceCatalog = catalog_parse(text)

    if seed_path is not None and seed_path.is_file():
        same = seed_path.read_text() == text
        report.add("seed", "-", str(seed_path), same, "" if same else "the repository copy differs from the seed")
    else:
        report.notes.append(f"seed not found at {seed_path}: copy-versus-seed check skipped")

    names = [s.name for s in catalog.scenarios]
    report.add(
        "diagram",
        "-",
        "scenario index",
        names == catalog.index_names and bool(names),
        f"index {catalog.index_names} vs sections {names}",
    )
    for scenario in catalog.scenarios:
        report.add(
            "diagram",
            scenario.name,
            "sequenceDiagram",
            not scenario.diagram_problems,
            "; ".join(scenario.diagram_problems)
            or f"{len(scenario.participants)} participants, {len(scenario.messages)} messages",
        )

    for path in catalog.paths:
        scenario = next((s.name for s in catalog.scenarios if path in s.paths), "-")
        ok, detail = _path_exists(root, path)
        report.add("path", scenario, path, ok, detail if ok else f"missing: {detail or 'no such file'}")

    runtime_modules = sorted((root / "tests" / "runtime").glob("test_*.py"))
    parsed = {module: _string_constants(module) for module in runtime_modules}
    for scenario in catalog.scenarios:
        modules = [m for m, (doc, _) in parsed.items() if f'"{scenario.name}"' in doc]
        asserted = set().union(*(parsed[m][1] for m in modules)) if modules else set()
        where = ", ".join(str(m.relative_to(root)) for m in modules) or "no runtime test module quotes this scenario"
        for participant in scenario.participants:
            if participant.label in NOT_TRACED:
                report.add(
                    "span", scenario.name, participant.label, True, f"not traced: {NOT_TRACED[participant.label]}"
                )
                continue
            if participant_of(participant.label) is None:
                report.add(
                    "span",
                    scenario.name,
                    participant.label,
                    False,
                    "not a member of apps.telemetry.participants.Participant: add it there and name the span by it",
                )
                continue
            span, shown = participant.label, "span"
            gap = KNOWN_GAPS.get((scenario.name, participant.label))
            if gap is not None:
                closed = span in asserted
                report.add(
                    "span",
                    scenario.name,
                    participant.label,
                    not closed,
                    f"listed in KNOWN_GAPS but now asserted in {where}: remove the entry"
                    if closed
                    else f"known gap: {gap}",
                    known_gap=not closed,
                )
                continue
            report.add(
                "span",
                scenario.name,
                participant.label,
                span in asserted,
                f"{shown} asserted in {where}" if span in asserted else f"no {shown} asserted in {where}",
            )

    exported = metric_names if metric_names is not None else exported_metric_names()
    for scenario in catalog.scenarios:
        for metric in scenario.metrics:
            report.add(
                "metric",
                scenario.name,
                metric,
                metric in exported,
                "exported at /metrics" if metric in exported else "not exported by any metrics module",
            )

    dashboards = root / "dashboards" / "sequence-catalog"
    for scenario in catalog.scenarios:
        file_name = DASHBOARD_OF.get(scenario.name)
        path = dashboards / file_name if file_name else None
        if path is None or not path.is_file():
            report.add("dashboard", scenario.name, file_name or "(none mapped)", False, "no dashboard")
            continue
        queries = _dashboard_queries(path)
        missing = [m for m in scenario.metrics if not re.search(rf"\b{re.escape(m)}", queries)]
        report.add(
            "dashboard",
            scenario.name,
            f"dashboards/sequence-catalog/{file_name}",
            not missing,
            f"panels miss {missing}" if missing else "queries every metric of the scenario",
        )
    return report


def report_lines(report: DriftReport) -> list[str]:
    lines = [f"Runtime sequence catalog: {report.catalog_path}"]
    for check in ("seed", "diagram", "path", "span", "metric", "dashboard"):
        findings = [f for f in report.findings if f.check == check]
        if not findings:
            continue
        lines.append(f"\n[{check}] {sum(f.ok for f in findings)}/{len(findings)} ok")
        for f in findings:
            scenario = "" if f.scenario == "-" else f"{f.scenario}: "
            lines.append(
                f"  {'ok   ' if f.ok else 'DRIFT'} {scenario}{f.subject}" + (f" — {f.detail}" if f.detail else "")
            )
    lines.extend(f"\nnote: {note}" for note in report.notes)
    gaps = sum(f.known_gap for f in report.findings)
    lines.append(f"\n{len(report.drift)} drift finding(s)" if report.drift else "\nno drift")
    if gaps:
        lines[-1] += f" ({gaps} known gap(s), listed in apps/probes/sequence_drift.py KNOWN_GAPS)"
    return lines
