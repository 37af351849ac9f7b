"""Reads of probe results, and for the sequence pages the catalog's diagrams beside the ones derived
from real traces."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .live_sequences import DERIVED_DIR, derived_file_name
from .models import ProbeResult
from .sequence_catalog import catalog_parse

CATALOG_PATH = "docs/requirements/runtime-sequence-catalog.md"
_SCENARIO_SECTION = re.compile(r"^### Scenario: (?P<name>.+?)\s*$(?P<body>.*?)(?=^### |^## |\Z)", re.M | re.S)
_MERMAID_BLOCK = re.compile(r"```mermaid\n(?P<body>.*?)```", re.S)


@dataclass(frozen=True)
class SequencePair:
    scenario: str
    slug: str
    catalog_diagram: str
    derived_diagram: str  # empty until `make validate-sequences LIVE=1` has written it
    derived_path: str


def sequence_pairs(*, root: Path | None = None) -> list[SequencePair]:
    root = root or Path(settings.BASE_DIR)
    text = (root / CATALOG_PATH).read_text()
    blocks = {m["name"]: (_MERMAID_BLOCK.search(m["body"]) or None) for m in _SCENARIO_SECTION.finditer(text)}
    pairs = []
    for scenario in catalog_parse(text).scenarios:
        block = blocks.get(scenario.name)
        file_name = derived_file_name(scenario.name)
        derived = root / DERIVED_DIR / file_name
        pairs.append(
            SequencePair(
                scenario=scenario.name,
                slug=file_name.removesuffix(".mmd"),
                catalog_diagram=block["body"].strip() if block else "",
                derived_diagram=derived.read_text().strip() if derived.is_file() else "",
                derived_path=f"{DERIVED_DIR}/{file_name}",
            )
        )
    return pairs


def probe_results_recent(*, limit: int = 200) -> list[ProbeResult]:
    """The newest probe results, newest first (one query)."""
    return list(ProbeResult.objects.using("default").order_by("-started_at")[:limit])
