"""Parser of the runtime sequence catalog (Markdown with one Mermaid ``sequenceDiagram`` per scenario).

Only what the drift checks need: scenarios with their participants and messages, the metric names
of each "Instrumentation Notes" block, and every repository path the catalog quotes in backticks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SCENARIO_HEADING = re.compile(r"^### Scenario: (?P<name>.+?)\s*$", re.MULTILINE)
_MERMAID_BLOCK = re.compile(r"```mermaid\n(?P<body>.*?)```", re.DOTALL)
_PARTICIPANT = re.compile(r"^\s*(?:participant|actor)\s+(?P<alias>\w+)(?:\s+as\s+(?P<label>.+?))?\s*$")
_MESSAGE = re.compile(
    r"^\s*(?P<source>\w+)\s*(?P<arrow>-{1,2}>>|-{1,2}>|-{1,2}x|-{1,2}\))\s*(?P<target>\w+)\s*:\s*(?P<text>.*)$"
)
_METRICS_LINE = re.compile(r"^- Metrics:(?P<rest>.*)$", re.MULTILINE)
_BACKTICKED = re.compile(r"`([^`\n]+)`")
# Repository paths the catalog names: runbooks, dashboards, ADRs, architecture and requirement
# notes, tests. A trailing slash names a folder; a `*` is a glob.
_REPO_PATH = re.compile(r"^(?:docs|dashboards|tests)/[\w./*-]*$")
_INDEX_ROW = re.compile(r"^\|\s*(?P<name>[^|]+?)\s*\|", re.MULTILINE)


@dataclass(frozen=True)
class Participant:
    alias: str
    label: str


@dataclass(frozen=True)
class Message:
    source: str
    target: str
    text: str
    line: int


@dataclass
class Scenario:
    name: str
    participants: list[Participant] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    diagram_problems: list[str] = field(default_factory=list)


@dataclass
class SequenceCatalog:
    scenarios: list[Scenario]
    index_names: list[str]
    paths: list[str]  # every repository path quoted anywhere in the catalog, in order, once each


def _diagram_parse(scenario: Scenario, section: str) -> None:
    blocks = _MERMAID_BLOCK.findall(section)
    if len(blocks) != 1:
        scenario.diagram_problems.append(f"expected one mermaid block, found {len(blocks)}")
        return
    lines = blocks[0].splitlines()
    if not lines or lines[0].strip() != "sequenceDiagram":
        scenario.diagram_problems.append("the mermaid block is not a sequenceDiagram")
        return
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.strip().startswith("%%"):
            continue
        if match := _PARTICIPANT.match(line):
            scenario.participants.append(Participant(match["alias"], (match["label"] or match["alias"]).strip()))
        elif match := _MESSAGE.match(line):
            scenario.messages.append(Message(match["source"], match["target"], match["text"].strip(), number))
        elif line.strip().split()[0] in {"Note", "note", "loop", "alt", "else", "opt", "par", "and", "end", "rect"}:
            continue
        else:
            scenario.diagram_problems.append(f"line {number} of the diagram is not understood: {line.strip()!r}")
    declared = {p.alias for p in scenario.participants}
    if len(declared) != len(scenario.participants):
        scenario.diagram_problems.append("a participant alias is declared twice")
    for message in scenario.messages:
        for end in (message.source, message.target):
            if end not in declared:
                scenario.diagram_problems.append(f"line {message.line}: {end!r} is not a declared participant")
    used = {m.source for m in scenario.messages} | {m.target for m in scenario.messages}
    for participant in scenario.participants:
        if participant.alias not in used:
            scenario.diagram_problems.append(f"participant {participant.label!r} takes part in no message")


def _repo_paths(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for token in _BACKTICKED.findall(text):
        token = token.strip()
        if _REPO_PATH.match(token):
            seen.setdefault(token, None)
    return list(seen)


def catalog_parse(text: str) -> SequenceCatalog:
    headings = list(_SCENARIO_HEADING.finditer(text))
    scenarios = []
    for position, heading in enumerate(headings):
        end = headings[position + 1].start() if position + 1 < len(headings) else text.find("\n## ", heading.end())
        section = text[heading.end() : end if end != -1 else len(text)]
        scenario = Scenario(name=heading["name"])
        _diagram_parse(scenario, section)
        for metrics_line in _METRICS_LINE.finditer(section):
            scenario.metrics.extend(_BACKTICKED.findall(metrics_line["rest"]))
        scenario.paths = _repo_paths(section)
        scenarios.append(scenario)
    index_names = []
    index_start = text.find("## Scenario Index")
    if index_start != -1:
        index_end = text.find("\n## ", index_start + 1)
        table = text[index_start : index_end if index_end != -1 else len(text)]
        for row in _INDEX_ROW.finditer(table):
            name = row["name"]
            if name != "Scenario" and not set(name) <= {"-", " "}:
                index_names.append(name)
    return SequenceCatalog(scenarios=scenarios, index_names=index_names, paths=_repo_paths(text))
